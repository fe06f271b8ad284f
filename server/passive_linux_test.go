package server

import (
	"context"
	"io"
	"testing"
	"time"
)

// A passive listener stays a bare socket while nothing waits on it, the
// inline accept finds nothing on an empty queue without changing that,
// and an accept that has to wait moves it into the netpoller, gets the
// client, and gives the port back.
func TestPassiveListenerBareUntilAcceptWaits(t *testing.T) {
	p, a := openTestPassive(t)
	p.mu.Lock()
	bare, inPoller := p.bare, p.ln != nil
	p.mu.Unlock()
	if bare < 0 || inPoller {
		t.Fatalf("new passive listener: bare socket %d, in the netpoller %v; want bare only", bare, inPoller)
	}
	if _, ok := p.acceptPending(testLoopback, false); ok {
		t.Fatal("acceptPending returned a connection from an empty queue")
	}
	if a.held() != 1 {
		t.Fatalf("%d ports held after an empty acceptPending, want 1", a.held())
	}

	res := goAccept(p, context.Background(), testLoopback, false, 10*time.Second)
	c := dialFromIP(t, "127.0.0.1", p.Port())
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.c.Close()
	if _, err := r.c.Write([]byte("through the netpoller")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 21)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "through the netpoller" {
		t.Fatalf("client read %q, %v", buf, err)
	}
	p.mu.Lock()
	bare, closed := p.bare, p.closed
	p.mu.Unlock()
	if bare != -1 || !closed {
		t.Fatalf("after accept: bare socket %d, closed %v; want -1, true", bare, closed)
	}
	if a.held() != 0 {
		t.Fatalf("%d ports held after the accept, want 0", a.held())
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// Closing a bare listener releases its port, and a later accept reports
// the listener closed instead of touching a stale descriptor.
func TestPassiveListenerClosedBare(t *testing.T) {
	p, a := openTestPassive(t)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if a.held() != 0 {
		t.Fatalf("%d ports held after Close, want 0", a.held())
	}
	if _, ok := p.acceptPending(testLoopback, false); ok {
		t.Fatal("acceptPending on a closed listener returned a connection")
	}
	if _, err := p.accept(context.Background(), testLoopback, false, time.Second); err == nil {
		t.Fatal("accept on a closed listener succeeded")
	}
}
