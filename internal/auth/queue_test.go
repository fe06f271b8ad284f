package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/ferry-ftp/ferry/server"
)

// holdSlots takes n slots of hs's, which must be free, as a flood of
// verifications in progress would; the returned func gives them back.
func holdSlots(t *testing.T, hs *Hasher, n int) (release func()) {
	t.Helper()
	for range n {
		// A free slot is taken without waiting: a cancelled context
		// makes a full semaphore fail here rather than hang.
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		must(t, hs.slots.acquire(ctx, netip.Prefix{}))
	}
	return func() {
		for range n {
			hs.slots.release()
		}
	}
}

// gate is a Hasher whose computations announce themselves (by password)
// on started and then wait for proceed; requests announce on queued
// once they wait for a slot.
type gate struct {
	hs      *Hasher
	hash    string
	started chan string
	proceed chan struct{}
	queued  chan netip.Prefix
	wg      sync.WaitGroup
}

func newGate(t *testing.T, n int) *gate {
	t.Helper()
	h, err := HashWith("x", cheap)
	must(t, err)
	g := &gate{hs: NewHasher(n), hash: h, started: make(chan string), proceed: make(chan struct{}),
		queued: make(chan netip.Prefix)}
	g.hs.compute = func(_, password string) (bool, error) {
		g.started <- password
		<-g.proceed
		return false, nil
	}
	g.hs.slots.waiting = func(k netip.Prefix) { g.queued <- k }
	t.Cleanup(g.wg.Wait)
	return g
}

// enqueue starts a verification of name from addr and returns once it
// waits in the queue; its result arrives on the returned channel.
func (g *gate) enqueue(ctx context.Context, addr, name string) <-chan error {
	res := make(chan error, 1)
	g.wg.Go(func() {
		_, err := g.hs.VerifyFrom(ctx, netip.MustParseAddr(addr), g.hash, name)
		res <- err
	})
	<-g.queued
	return res
}

// Waiting requests are granted round-robin across addresses, oldest
// first within each; an address that starts waiting joins the rotation
// at the back. Each grant is observed as the computation it starts: the
// order is the queue's, with no timing involved.
func TestQueueOrder(t *testing.T) {
	g := newGate(t, 1)
	release := holdSlots(t, g.hs, 1)
	const a, b, c, d = "192.0.2.1", "192.0.2.2", "2001:db8::1", "::ffff:192.0.2.4"
	for _, r := range [][2]string{{a, "A1"}, {a, "A2"}, {a, "A3"}, {b, "B1"}, {c, "C1"}} {
		g.enqueue(t.Context(), r[0], r[1])
	}
	release() // the one slot goes round: each computation frees it for the next
	var got []string
	got = append(got, <-g.started)
	g.enqueue(t.Context(), d, "D1") // while A1 computes: the rotation is now B C A
	for range 5 {
		g.proceed <- struct{}{}
		got = append(got, <-g.started)
	}
	g.proceed <- struct{}{}
	want := []string{"A1", "B1", "C1", "A2", "D1", "A3"}
	if !equal(got, want) {
		t.Errorf("grant order %v, want %v", got, want)
	}
}

// One address holding its whole queue does not delay a login from
// another address by more than one turn.
func TestQueueFloodDoesNotStarve(t *testing.T) {
	g := newGate(t, 1)
	release := holdSlots(t, g.hs, 1)
	for range queuePerAddr {
		g.enqueue(t.Context(), "198.51.100.7", "flood")
	}
	g.enqueue(t.Context(), "203.0.113.9", "alice")
	release()
	var got []string
	for range queuePerAddr + 1 {
		got = append(got, <-g.started)
		g.proceed <- struct{}{}
	}
	if got[0] != "flood" || got[1] != "alice" {
		t.Errorf("grant order %v: alice should be second", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// IPv4 addresses queue one each, mapped or not; IPv6 addresses by /64,
// since one client commonly has a whole /64.
func TestQueueKey(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"192.0.2.1", "::ffff:192.0.2.1", true},
		{"192.0.2.1", "192.0.2.2", false},
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
	} {
		ka, kb := queueKey(netip.MustParseAddr(c.a)), queueKey(netip.MustParseAddr(c.b))
		if (ka == kb) != c.same {
			t.Errorf("queueKey(%s) = %v, queueKey(%s) = %v; same queue %v, want %v", c.a, ka, c.b, kb, ka == kb, c.same)
		}
	}
	if k := queueKey(netip.Addr{}); k != (netip.Prefix{}) {
		t.Errorf("queueKey(no address) = %v", k)
	}
}

// Beyond the bound per address, and beyond the bound in all, a request
// is refused at once; refused requests take no place in the queue.
func TestQueueBounds(t *testing.T) {
	g := newGate(t, 1)
	g.hs.slots.perAddr, g.hs.slots.total = 2, 3
	release := holdSlots(t, g.hs, 1)
	var results []<-chan error
	results = append(results, g.enqueue(t.Context(), "192.0.2.1", "A1"), g.enqueue(t.Context(), "192.0.2.1", "A2"))
	if _, err := g.hs.VerifyFrom(t.Context(), netip.MustParseAddr("192.0.2.1"), g.hash, "A3"); !errors.Is(err, errBusy) {
		t.Errorf("third request from one address: %v, want errBusy", err)
	}
	results = append(results, g.enqueue(t.Context(), "192.0.2.2", "B1"))
	if _, err := g.hs.VerifyFrom(t.Context(), netip.MustParseAddr("192.0.2.3"), g.hash, "C1"); !errors.Is(err, errBusy) {
		t.Errorf("fourth request in all: %v, want errBusy", err)
	}
	release()
	var got []string
	for range 3 {
		got = append(got, <-g.started)
		g.proceed <- struct{}{}
	}
	if want := []string{"A1", "B1", "A2"}; !equal(got, want) {
		t.Errorf("grant order %v, want %v", got, want)
	}
	for _, r := range results {
		if err := <-r; err != nil {
			t.Errorf("queued request: %v", err)
		}
	}
	checkIdle(t, g.hs, 1)
}

// checkIdle checks that nothing waits and all n slots are free.
func checkIdle(t *testing.T, hs *Hasher, n int) {
	t.Helper()
	s := hs.slots
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.free != n || s.queued != 0 || len(s.turns) != 0 || len(s.queues) != 0 {
		t.Errorf("slots not idle: free %d of %d, queued %d, turns %d, queues %d", s.free, n, s.queued, len(s.turns), len(s.queues))
	}
}

// A request whose context ends while it waits leaves the queue at once,
// with the context's error, and the next one gets the slot.
func TestQueueCancel(t *testing.T) {
	g := newGate(t, 1)
	release := holdSlots(t, g.hs, 1)
	ctx, cancel := context.WithCancel(t.Context())
	gone := g.enqueue(ctx, "192.0.2.1", "A1")
	next := g.enqueue(t.Context(), "192.0.2.1", "A2")
	other := g.enqueue(ctx, "192.0.2.2", "B1")
	cancel()
	for _, r := range []<-chan error{gone, other} {
		if err := <-r; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled while queued: %v", err)
		}
	}
	release()
	if got := <-g.started; got != "A2" {
		t.Errorf("after the cancellations %s got the slot, want A2", got)
	}
	g.proceed <- struct{}{}
	if err := <-next; err != nil {
		t.Errorf("A2: %v", err)
	}
	checkIdle(t, g.hs, 1)
}

// No more computations than slots ever run at once, which is what
// bounds argon2id's memory to slots × memory cost.
func TestQueueBoundsConcurrency(t *testing.T) {
	const n, total = 2, 5
	g := newGate(t, n)
	var results []<-chan error
	for i := range total {
		res := make(chan error, 1)
		g.wg.Go(func() {
			_, err := g.hs.VerifyFrom(t.Context(), netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), g.hash, "p")
			res <- err
		})
		results = append(results, res)
	}
	// Two computations start and three requests queue, in whatever order
	// the goroutines run.
	running, waiting := 0, 0
	for running+waiting < total {
		select {
		case <-g.started:
			running++
		case <-g.queued:
			waiting++
		}
	}
	if running != n || waiting != total-n {
		t.Fatalf("%d computations running and %d waiting, want %d and %d", running, waiting, n, total-n)
	}
	// Each finished computation lets exactly one more start.
	for running < total {
		g.proceed <- struct{}{}
		<-g.started
		running++
	}
	for range n {
		g.proceed <- struct{}{}
	}
	for _, r := range results {
		if err := <-r; err != nil {
			t.Error(err)
		}
	}
	checkIdle(t, g.hs, n)
}

// A login whose password is in the verified-credentials cache does not
// wait for a slot: it succeeds while every slot is held and others
// wait, and computes nothing. A full queue fails a login as a bad one.
func TestCachedLoginSkipsQueue(t *testing.T) {
	s, _ := newStore(t, userEntry(t, "alice", "apw", ""), nil)
	req := server.LoginRequest{User: "alice", Password: "apw", Remote: netip.MustParseAddr("192.0.2.1")}
	if _, err := s.Authenticate(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	release := holdSlots(t, s.hasher, 2)
	defer release()
	s.hasher.compute = func(string, string) (bool, error) {
		t.Error("a cached login computed a hash")
		return false, nil
	}
	queued := make(chan netip.Prefix)
	s.hasher.slots.waiting = func(k netip.Prefix) { queued <- k }
	ctx, cancel := context.WithCancel(t.Context())
	waiter := make(chan error, 1)
	go func() {
		_, err := s.Authenticate(ctx, server.LoginRequest{User: "alice", Password: "wrong", Remote: req.Remote})
		waiter <- err
	}()
	<-queued // a wrong password from the same address waits its turn
	cached := make(chan error, 1)
	go func() {
		u, err := s.Authenticate(ctx, req)
		if err == nil && u.Name != "alice" {
			err = fmt.Errorf("logged in as %+v", u)
		}
		cached <- err
	}()
	select {
	case err := <-cached:
		if err != nil {
			t.Errorf("cached login with every slot held: %v", err)
		}
	case <-queued: // the cancel below lets it go
		t.Error("a cached login waited in the queue")
		cancel()
		<-cached
	}
	cancel()
	if err := <-waiter; !errors.Is(err, context.Canceled) {
		t.Errorf("the queued wrong password: %v", err)
	}

	s.hasher.slots.total = 0 // the queue is full
	_, err := s.Authenticate(t.Context(), server.LoginRequest{User: "alice", Password: "wrong"})
	if !errors.Is(err, server.ErrBadLogin) || !errors.Is(err, errBusy) {
		t.Errorf("login with the queue full: %v, want ErrBadLogin and errBusy", err)
	}
}
