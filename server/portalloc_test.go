package server

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/testenv"
)

var testLoopback = netip.MustParseAddr("127.0.0.1")

// freePortRange is a passive range of n free ports (see testenv.FreePortRange).
func freePortRange(t testing.TB, n int) ftp.PortRange {
	lo, hi := testenv.FreePortRange(t, n)
	return ftp.PortRange{Min: uint16(lo), Max: uint16(hi)}
}

// listen binds a Go TCP listener on ip and a port of the range through
// bindPort, the allocator's probe; closing it gives the port back.
func (a *portAllocator) listen(ip netip.Addr) (net.Listener, uint16, error) {
	var ln *net.TCPListener
	port, err := a.bindPort(func(port uint16) error {
		var err error
		ln, err = listenTCP(ip, port)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return &allocListener{TCPListener: ln, alloc: a, port: port}, port, nil
}

// allocListener releases its port exactly once, on the first Close.
type allocListener struct {
	*net.TCPListener
	alloc *portAllocator
	port  uint16
	once  sync.Once
}

func (l *allocListener) Close() error {
	err := l.TCPListener.Close()
	l.once.Do(func() { l.alloc.release(l.port) })
	return err
}

func (a *portAllocator) held() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inUse
}

func TestPortAllocatorStaysInRangeAndSpreads(t *testing.T) {
	r := freePortRange(t, 4)
	a := newPortAllocator(r)
	seen := map[uint16]int{}
	for range 200 {
		ln, port, err := a.listen(testLoopback)
		if err != nil {
			t.Fatal(err)
		}
		got := ln.Addr().(*net.TCPAddr).Port
		if got != int(port) || !r.Contains(port) {
			t.Fatalf("listening on %d, reported %d, range %d-%d", got, port, r.Min, r.Max)
		}
		seen[port]++
		ln.Close()
	}
	for p := r.Min; p <= r.Max; p++ {
		if seen[p] == 0 {
			t.Errorf("port %d never allocated in 200 tries: %v", p, seen)
		}
	}
	if n := a.held(); n != 0 {
		t.Errorf("%d ports still held after closing every listener", n)
	}
}

func TestPortAllocatorExhaustion(t *testing.T) {
	r := freePortRange(t, 4)
	// Another program holds one port of the range.
	busy, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", r.Min+2))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	a := newPortAllocator(r)
	got := map[uint16]net.Listener{}
	for range 3 {
		ln, port, err := a.listen(testLoopback)
		if err != nil {
			t.Fatal(err)
		}
		if port == 0 || port == r.Min+2 || !r.Contains(port) || got[port] != nil {
			t.Fatalf("allocated port %d (range %d-%d, busy %d, held %v)", port, r.Min, r.Max, r.Min+2, got)
		}
		got[port] = ln
	}
	for range 3 {
		ln, port, err := a.listen(testLoopback)
		if !errors.Is(err, errPortsExhausted) || ln != nil || port != 0 {
			t.Fatalf("listen on a full range = %v, %d, %v; want errPortsExhausted", ln, port, err)
		}
	}
	if n := a.held(); n != 3 {
		t.Fatalf("held %d ports, want 3: the refused port leaked", n)
	}

	// A released port is handed out again.
	var (
		freed uint16
		old   net.Listener
	)
	for p, ln := range got {
		freed, old = p, ln
		ln.Close()
		delete(got, p)
		break
	}
	ln, port, err := a.listen(testLoopback)
	if err != nil || port != freed {
		t.Fatalf("after releasing %d: listen = %d, %v", freed, port, err)
	}
	got[port] = ln
	// Closing the old listener again must not release the port its
	// successor now holds.
	old.Close()
	if n := a.held(); n != 3 {
		t.Fatalf("held %d ports after a second Close, want 3: it released the successor's port", n)
	}
	for _, ln := range got {
		ln.Close()
	}
	if n := a.held(); n != 0 {
		t.Fatalf("held %d ports after closing all", n)
	}
}

func TestPortAllocatorConcurrent(t *testing.T) {
	r := freePortRange(t, 8)
	a := newPortAllocator(r)
	var (
		mu    sync.Mutex
		owned = map[uint16]bool{}
		wg    sync.WaitGroup
	)
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for range 50 {
				ln, port, err := a.listen(testLoopback)
				if errors.Is(err, errPortsExhausted) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				dup := owned[port]
				owned[port] = true
				mu.Unlock()
				if dup || !r.Contains(port) {
					errs <- fmt.Errorf("port %d handed out twice or outside %d-%d", port, r.Min, r.Max)
					ln.Close()
					return
				}
				mu.Lock()
				delete(owned, port)
				mu.Unlock()
				ln.Close()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := a.held(); n != 0 {
		t.Errorf("held %d ports after all listeners closed", n)
	}
}

// TestPortAllocatorClaim exercises the bitmap without sockets, on a range
// spanning three words with a partial last one.
func TestPortAllocatorClaim(t *testing.T) {
	const size = 130
	a := newPortAllocator(ftp.PortRange{Min: 40000, Max: 40000 + size - 1})
	seen := map[int]bool{}
	for i := range size {
		off, _, ok := a.claim(rand.IntN(size), size)
		if !ok || off < 0 || off >= size || seen[off] {
			t.Fatalf("claim %d: off=%d ok=%v (seen before: %v)", i, off, ok, seen[off])
		}
		seen[off] = true
	}
	if _, _, ok := a.claim(0, size); ok {
		t.Fatal("claim succeeded on a full range")
	}
	a.release(40000 + 70)
	a.release(40000 + 70) // no-op
	a.release(39999)      // outside: no-op
	if n := a.held(); n != size-1 {
		t.Fatalf("held %d, want %d", n, size-1)
	}
	// The window limits the search: from 65 with a span of 5 it must not
	// reach 70; with 6 it must, at distance 5.
	if off, _, ok := a.claim(65, 5); ok {
		t.Fatalf("claim outside the window returned %d", off)
	}
	off, dist, ok := a.claim(65, 6)
	if !ok || off != 70 || dist != 5 {
		t.Fatalf("claim(65, 6) = %d, %d, %v; want 70, 5, true", off, dist, ok)
	}
	// Wrapping: free 3, search from 128.
	a.release(40000 + 3)
	off, dist, ok = a.claim(128, size)
	if !ok || off != 3 || dist != 5 {
		t.Fatalf("claim(128) = %d, %d, %v; want 3, 5, true", off, dist, ok)
	}
}

func TestPortAllocatorEmptyRangeUsesDefault(t *testing.T) {
	a := newPortAllocator(ftp.PortRange{})
	if a.r != DefaultPassivePorts {
		t.Fatalf("empty range became %v, want %v", a.r, DefaultPassivePorts)
	}
}

func BenchmarkPortAllocator(b *testing.B) {
	a := newPortAllocator(freePortRange(b, 64))
	b.ReportAllocs()
	for b.Loop() {
		ln, _, err := a.listen(testLoopback)
		if err != nil {
			b.Fatal(err)
		}
		ln.Close()
	}
}
