package auth

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
)

// Bounds on the requests waiting for a hashing slot. A client address
// may have queuePerAddr waiting (the server's max_per_ip sessions could
// otherwise queue 20 each), and queueTotal may wait in all; beyond, a
// login fails at once with errBusy, which the Store reports as a bad
// login. With round-robin turns a login from a new address waits for at
// most one verification per other waiting address, however many each
// of them queued: at 0.13 s a verification and two slots, a full queue
// of 32 addresses costs it about 2 s, not the 9 s of a flood without
// turns.
const (
	queuePerAddr = 8
	queueTotal   = 256
)

// errBusy is a request refused because too many are waiting: for the
// whole server, or for its client address.
var errBusy = errors.New("auth: too many logins waiting for a hashing slot")

// slots is a counting semaphore whose waiters are served fairly across
// client addresses. Each address (an IPv4 address, or an IPv6 /64, the
// least a single client is given) has its own first-in first-out queue.
// The addresses with requests waiting take turns: a freed slot goes to
// the oldest request of the address at the front of the rotation, and
// that address moves to the back if it has more waiting. An address
// joins the rotation at the back when a first request of its starts to
// wait. So one address with hundreds of attempts cannot starve another:
// enqueued A1 A2 A3 B1 C1 are granted A1 B1 C1 A2 A3.
//
// A free slot is taken at once only when nobody waits; a released slot
// is handed straight to the next waiter, so that a newcomer never
// overtakes the queue.
type slots struct {
	perAddr, total int // bounds on waiting requests
	// waiting, when set (by tests), is called once a request is queued,
	// after the lock is released.
	waiting func(netip.Prefix)

	mu     sync.Mutex
	free   int                         // slots not held; 0 whenever anyone waits
	queues map[netip.Prefix]*addrQueue // addresses with requests waiting
	turns  []*addrQueue                // the same addresses, in rotation order
	queued int                         // requests waiting in all
}

// addrQueue is one address's waiting requests, oldest first.
type addrQueue struct {
	key     netip.Prefix
	waiters []*waiter
}

// waiter is one queued request. granted (under slots.mu) is set, and
// ready closed, when a slot is handed to it.
type waiter struct {
	ready   chan struct{}
	granted bool
}

func newSlots(n int) *slots {
	return &slots{perAddr: queuePerAddr, total: queueTotal, free: n, queues: map[netip.Prefix]*addrQueue{}}
}

// queueKey is the queue of a client address: IPv4 addresses (mapped or
// not) one each, IPv6 addresses by /64. The zero Addr, a caller that
// gave none, has a queue of its own.
func queueKey(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// acquire takes a slot for a request from key, waiting its turn. It
// returns errBusy at once when key's queue or the whole queue is full,
// and ctx's cause when ctx ends first; the caller releases a slot only
// when acquire returned nil.
func (s *slots) acquire(ctx context.Context, key netip.Prefix) error {
	s.mu.Lock()
	if s.free > 0 {
		s.free--
		s.mu.Unlock()
		return nil
	}
	q := s.queues[key]
	if s.queued >= s.total || q != nil && len(q.waiters) >= s.perAddr {
		s.mu.Unlock()
		return errBusy
	}
	if q == nil {
		q = &addrQueue{key: key}
		s.queues[key] = q
		s.turns = append(s.turns, q)
	}
	w := &waiter{ready: make(chan struct{})}
	q.waiters = append(q.waiters, w)
	s.queued++
	s.mu.Unlock()
	if s.waiting != nil {
		s.waiting(key)
	}

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	if w.granted { // handed a slot as ctx ended: pass it on
		s.mu.Unlock()
		s.release()
		return context.Cause(ctx)
	}
	q.waiters = slices.DeleteFunc(q.waiters, func(x *waiter) bool { return x == w })
	s.queued--
	if len(q.waiters) == 0 {
		s.drop(q)
	}
	s.mu.Unlock()
	return context.Cause(ctx)
}

// release frees a slot: it goes to the oldest waiter of the address
// whose turn it is, or back to the pool when nobody waits.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.turns) == 0 {
		s.free++
		return
	}
	q := s.turns[0]
	w := q.waiters[0]
	q.waiters = slices.Delete(q.waiters, 0, 1)
	s.queued--
	s.turns = slices.Delete(s.turns, 0, 1)
	if len(q.waiters) > 0 {
		s.turns = append(s.turns, q)
	} else {
		delete(s.queues, q.key)
	}
	w.granted = true
	close(w.ready)
}

// drop removes an address with no more waiters from the rotation.
func (s *slots) drop(q *addrQueue) {
	delete(s.queues, q.key)
	s.turns = slices.DeleteFunc(s.turns, func(x *addrQueue) bool { return x == q })
}
