package auth

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/server"
)

// fakeClock is a clock that moves only when told. after records each
// wait asked for and returns fire, which the test controls.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	waits []time.Duration
	fire  chan time.Time
	asked chan struct{} // receives when a wait is asked for, if not nil
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) after(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	if c.asked != nil {
		c.asked <- struct{}{}
	}
	return c.fire
}

// fakeBackend takes cost on the fake clock and then answers.
type fakeBackend struct {
	clock *fakeClock
	cost  time.Duration
	user  *server.User
	err   error
	hook  func() // run during the call, if set
}

func (b *fakeBackend) Authenticate(ctx context.Context, req server.LoginRequest) (*server.User, error) {
	b.clock.advance(b.cost)
	if b.hook != nil {
		b.hook()
	}
	return b.user, b.err
}

// A failure is held until the deadline derived from the clock at the
// call (start + Min): the wait asked for is exactly what remains. A
// failure slower than Min, a success, and Min 0 wait not at all.
func TestFailureFloor(t *testing.T) {
	backendErr := errors.New("directory unreachable")
	for _, c := range []struct {
		name  string
		min   time.Duration
		cost  time.Duration
		user  *server.User
		err   error
		waits []time.Duration
	}{
		{"fast bad login waits the rest", 100 * time.Millisecond, 30 * time.Millisecond, nil, server.ErrBadLogin, []time.Duration{70 * time.Millisecond}},
		{"instant bad login waits it all", 100 * time.Millisecond, 0, nil, server.ErrBadLogin, []time.Duration{100 * time.Millisecond}},
		{"backend error is padded too", 100 * time.Millisecond, 10 * time.Millisecond, nil, backendErr, []time.Duration{90 * time.Millisecond}},
		{"no user and no error is a failure", 100 * time.Millisecond, 40 * time.Millisecond, nil, nil, []time.Duration{60 * time.Millisecond}},
		{"slow failure: no wait", 100 * time.Millisecond, 150 * time.Millisecond, nil, server.ErrBadLogin, nil},
		{"failure exactly at the floor: no wait", 100 * time.Millisecond, 100 * time.Millisecond, nil, server.ErrBadLogin, nil},
		{"success: no wait", 100 * time.Millisecond, time.Millisecond, &server.User{Name: "alice"}, nil, nil},
		{"floor off", 0, 0, nil, server.ErrBadLogin, nil},
	} {
		clock := &fakeClock{t: time.Unix(1e9, 0), fire: make(chan time.Time, 1)}
		clock.fire <- time.Time{} // a wait, if asked for, ends at once
		f := &FailureFloor{Auth: &fakeBackend{clock: clock, cost: c.cost, user: c.user, err: c.err}, Min: c.min,
			now: clock.now, after: clock.after}
		u, err := f.Authenticate(t.Context(), server.LoginRequest{User: "alice"})
		if u != c.user || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("%s: returned %v, %v; want the backend's %v, %v", c.name, u, err, c.user, c.err)
		}
		if len(clock.waits) != len(c.waits) || len(c.waits) == 1 && clock.waits[0] != c.waits[0] {
			t.Errorf("%s: waited %v, want %v", c.name, clock.waits, c.waits)
		}
	}
}

// A failed login whose context ends during the wait returns at once,
// with the backend's answer.
func TestFailureFloorHonoursContext(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0), fire: make(chan time.Time), asked: make(chan struct{})}
	f := &FailureFloor{Auth: &fakeBackend{clock: clock, err: server.ErrBadLogin}, Min: time.Hour,
		now: clock.now, after: clock.after}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := f.Authenticate(ctx, server.LoginRequest{User: "alice"})
		done <- err
	}()
	<-clock.asked // waiting for the floor, which never comes
	cancel()
	if err := <-done; !errors.Is(err, server.ErrBadLogin) {
		t.Errorf("cancelled during the wait: %v, want the backend's ErrBadLogin", err)
	}
}

// Around a Store, with the real clock: a success returns, a failure
// with a cancelled context returns the Store's ErrBadLogin rather than
// waiting out an hour.
func TestFailureFloorAroundStore(t *testing.T) {
	s, _ := newStore(t, userEntry(t, "alice", "apw", ""), nil)
	f := &FailureFloor{Auth: s, Min: time.Hour}
	if u, err := f.Authenticate(t.Context(), server.LoginRequest{User: "alice", Password: "apw"}); err != nil || u.Name != "alice" {
		t.Fatalf("success through the floor: %v, %v", u, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	s.hasher.compute = func(hash, password string) (bool, error) {
		cancel() // the client hangs up while its password is checked
		return verifyHash(hash, password)
	}
	if _, err := f.Authenticate(ctx, server.LoginRequest{User: "alice", Password: "wrong"}); !errors.Is(err, server.ErrBadLogin) {
		t.Errorf("failure through the floor: %v", err)
	}
}
