package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestCheckActiveTarget(t *testing.T) {
	peer := netip.MustParseAddr("192.0.2.10")
	ap := netip.MustParseAddrPort
	tests := []struct {
		target  netip.AddrPort
		peer    netip.Addr
		anyPeer bool
		want    error
	}{
		{ap("192.0.2.10:40000"), peer, false, nil},
		{ap("[::ffff:192.0.2.10]:40000"), peer, false, nil},
		{ap("192.0.2.10:40000"), netip.MustParseAddr("::ffff:192.0.2.10"), false, nil},
		{ap("192.0.2.10:1024"), peer, false, nil},
		{ap("192.0.2.11:40000"), peer, false, errBounceHost},
		{ap("192.0.2.10:1023"), peer, false, errBouncePort},
		{ap("192.0.2.10:25"), peer, false, errBouncePort},
		{ap("192.0.2.11:25"), peer, false, errBounceHost},
		{ap("192.0.2.11:25"), peer, true, nil},
		{ap("[2001:db8::1]:40000"), peer, false, errBounceHost},
		{ap("[2001:db8::1]:40000"), netip.MustParseAddr("2001:db8::1"), false, nil},
		{ap("192.0.2.10:0"), peer, true, errBadTarget},
		{ap("0.0.0.0:40000"), peer, true, errBadTarget},
		{ap("224.0.0.1:40000"), peer, true, errBadTarget},
		{ap("255.255.255.255:40000"), peer, true, errBadTarget},
		{netip.AddrPort{}, peer, true, errBadTarget},
	}
	for _, tt := range tests {
		if got := checkActiveTarget(tt.target, tt.peer, tt.anyPeer); got != tt.want {
			t.Errorf("checkActiveTarget(%v, %v, %v) = %v, want %v", tt.target, tt.peer, tt.anyPeer, got, tt.want)
		}
	}
}

// dataSink listens on 127.0.0.1 and hands over accepted connections.
func dataSink(t *testing.T) (netip.AddrPort, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(ch)
				return
			}
			t.Cleanup(func() { c.Close() })
			ch <- c
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort(), ch
}

// activeRoundTrip writes through c and checks the accepted end reads it.
func activeRoundTrip(t *testing.T, c net.Conn, accepted <-chan net.Conn) net.Conn {
	t.Helper()
	if _, err := c.Write([]byte("ferry")); err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("sink closed")
	}
	buf := make([]byte, 5)
	s.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "ferry" {
		t.Fatalf("read %q, %v", buf, err)
	}
	return s
}

// unusedLoopbackPort returns a port nothing listens on right now.
func unusedLoopbackPort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

func TestDialActiveFromLocalIP(t *testing.T) {
	target, accepted := dataSink(t)
	c, fellBack, err := dialActive(context.Background(), netip.MustParseAddr("::ffff:127.0.0.2"), target, 0, 5*time.Second)
	if err != nil || fellBack {
		t.Fatalf("dialActive = %v, %v", fellBack, err)
	}
	defer c.Close()
	s := activeRoundTrip(t, c, accepted)
	if got := remoteAddrPort(s).Addr(); got != netip.MustParseAddr("127.0.0.2") {
		t.Fatalf("data connection came from %v, want the control connection's local 127.0.0.2", got)
	}
}

func TestDialActiveFromPort(t *testing.T) {
	from := unusedLoopbackPort(t)
	// Two connections from the same source port at once, to two
	// targets: SO_REUSEADDR must let them share it.
	for range 2 {
		target, accepted := dataSink(t)
		c, fellBack, err := dialActive(context.Background(), testLoopback, target, from, 5*time.Second)
		if err != nil || fellBack {
			t.Fatalf("dialActive from %d = %v, %v", from, fellBack, err)
		}
		defer c.Close()
		if got := remoteAddrPort(activeRoundTrip(t, c, accepted)).Port(); got != from {
			t.Fatalf("data connection left from port %d, want %d", got, from)
		}
	}
}

func TestDialActiveFromPortFallback(t *testing.T) {
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	from := uint16(busy.Addr().(*net.TCPAddr).Port)

	target, accepted := dataSink(t)
	c, fellBack, err := dialActive(context.Background(), testLoopback, target, from, 5*time.Second)
	if err != nil || !fellBack {
		t.Fatalf("dialActive from a busy port = %v, %v; want a fallback", fellBack, err)
	}
	defer c.Close()
	if got := remoteAddrPort(activeRoundTrip(t, c, accepted)).Port(); got == from || got == 0 {
		t.Fatalf("data connection left from port %d", got)
	}
}

func TestDialActiveRefused(t *testing.T) {
	target := netip.AddrPortFrom(testLoopback, unusedLoopbackPort(t))
	c, fellBack, err := dialActive(context.Background(), testLoopback, target, 0, 5*time.Second)
	if err == nil || fellBack || c != nil {
		t.Fatalf("dialActive to a closed port = %v, %v, %v", c, fellBack, err)
	}
	// A refused target is not a source-port problem: no fallback.
	c, fellBack, err = dialActive(context.Background(), testLoopback, target, unusedLoopbackPort(t), 5*time.Second)
	if err == nil || fellBack {
		t.Fatalf("dialActive from a port to a closed port = %v, %v, %v", c, fellBack, err)
	}
}

func TestDialActiveCancelled(t *testing.T) {
	target, _ := dataSink(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := dialActive(ctx, testLoopback, target, 0, 5*time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("dialActive with a cancelled context = %v", err)
	}
}

func TestCanBindPort(t *testing.T) {
	busy, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if canBindPort(uint16(busy.Addr().(*net.TCPAddr).Port)) {
		t.Error("canBindPort says yes to a port another listener holds")
	}
	if p := unusedLoopbackPort(t); !canBindPort(p) {
		t.Errorf("canBindPort(%d) = false for a free port", p)
	}
}
