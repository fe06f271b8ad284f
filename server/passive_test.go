package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"
)

type acceptResult struct {
	c   net.Conn
	err error
}

func openTestPassive(t *testing.T) (*passiveListener, *portAllocator) {
	t.Helper()
	a := newPortAllocator(freePortRange(t, 4))
	p, err := openPassive(a, testLoopback)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, a
}

func goAccept(p *passiveListener, ctx context.Context, peer netip.Addr, anyPeer bool, timeout time.Duration) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := p.accept(ctx, peer, anyPeer, timeout)
		ch <- acceptResult{c, err}
	}()
	return ch
}

// dialFromIP connects to 127.0.0.1:port from the loopback address src.
func dialFromIP(t *testing.T, src string, port uint16) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestPassiveDropsStrangerKeepsWaiting(t *testing.T) {
	p, a := openTestPassive(t)
	strangers := make(chan netip.AddrPort, maxStrangers)
	p.onStranger = func(ap netip.AddrPort) { strangers <- ap }
	// The peer arrives as a dual-stack listener reports it: IPv4-mapped.
	peer := netip.MustParseAddr("::ffff:127.0.0.1")
	res := goAccept(p, context.Background(), peer, false, 10*time.Second)

	s := dialFromIP(t, "127.0.0.2", p.Port())
	s.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := s.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stranger's connection: read %d, %v; want it closed", n, err)
	}
	select {
	case ap := <-strangers:
		if ap.Addr() != netip.MustParseAddr("127.0.0.2") {
			t.Fatalf("stranger reported as %v", ap)
		}
	case r := <-res:
		t.Fatalf("accept returned on a stranger: %v, %v", r.c, r.err)
	}

	c := dialFromIP(t, "127.0.0.1", p.Port())
	if _, err := c.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.c.Close()
	buf := make([]byte, 4)
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(r.c, buf); err != nil || string(buf) != "data" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if n := a.held(); n != 0 {
		t.Fatalf("port still held after accept: %d", n)
	}
	if c, err := net.DialTimeout("tcp4", r.c.LocalAddr().String(), 5*time.Second); err == nil {
		c.Close()
		t.Fatal("listener still accepting after the data connection arrived")
	}
}

func TestPassiveAnyPeer(t *testing.T) {
	p, _ := openTestPassive(t)
	p.onStranger = func(ap netip.AddrPort) { t.Errorf("stranger %v dropped with anyPeer", ap) }
	res := goAccept(p, context.Background(), testLoopback, true, 10*time.Second)
	dialFromIP(t, "127.0.0.2", p.Port())
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	r.c.Close()
	if got := remoteAddrPort(r.c).Addr(); got != netip.MustParseAddr("127.0.0.2") {
		t.Fatalf("accepted %v", got)
	}
}

func TestPassiveStrangerFlood(t *testing.T) {
	p, a := openTestPassive(t)
	res := goAccept(p, context.Background(), testLoopback, false, 30*time.Second)
	for range maxStrangers {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}
		c, err := d.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(p.Port()))))
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	r := <-res
	if !errors.Is(r.err, errTooManyStrangers) {
		t.Fatalf("accept after a flood = %v, %v; want errTooManyStrangers", r.c, r.err)
	}
	if n := a.held(); n != 0 {
		t.Fatalf("port still held: %d", n)
	}
}

func TestPassiveAcceptTimeout(t *testing.T) {
	p, a := openTestPassive(t)
	c, err := p.accept(context.Background(), testLoopback, false, 20*time.Millisecond)
	if !errors.Is(err, errDataTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) || c != nil {
		t.Fatalf("accept = %v, %v; want errDataTimeout", c, err)
	}
	if n := a.held(); n != 0 {
		t.Fatalf("port still held after timeout: %d", n)
	}
}

func TestPassiveAcceptCancel(t *testing.T) {
	p, a := openTestPassive(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	abor := errors.New("ABOR")
	res := goAccept(p, ctx, testLoopback, false, time.Minute)
	cancel(abor)
	r := <-res
	if !errors.Is(r.err, abor) || r.c != nil {
		t.Fatalf("accept after cancel = %v, %v; want the cause", r.c, r.err)
	}
	if n := a.held(); n != 0 {
		t.Fatalf("port still held after cancel: %d", n)
	}
}

func TestPassiveCloseDuringAccept(t *testing.T) {
	p, a := openTestPassive(t)
	res := goAccept(p, context.Background(), testLoopback, false, time.Minute)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	r := <-res
	if !errors.Is(r.err, errPassiveClosed) || r.c != nil {
		t.Fatalf("accept after Close = %v, %v; want errPassiveClosed", r.c, r.err)
	}
	if n := a.held(); n != 0 {
		t.Fatalf("port still held after Close: %d", n)
	}
}
