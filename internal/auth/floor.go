package auth

import (
	"context"
	"time"

	"github.com/ferry-ftp/ferry/server"
)

// FailureFloor is an Authenticator around Auth whose failed logins take
// at least Min, counted from the call: for backends whose cost differs
// between failures (a directory server that answers an unknown name
// faster than a wrong password, say), so that the time of a refusal
// tells nothing. A failure is an error, or no User. It waits the rest
// of Min after Auth returns, or until ctx ends, and then returns what
// Auth returned; successes are not delayed. Min 0 waits never.
//
// The file backend needs no floor (every failure costs one
// verification), but one does no harm there.
type FailureFloor struct {
	Auth server.Authenticator
	Min  time.Duration

	// now and after are the clock; nil: time.Now and time.After. Tests
	// replace them.
	now   func() time.Time
	after func(time.Duration) <-chan time.Time
}

var _ server.Authenticator = (*FailureFloor)(nil)

// Authenticate implements server.Authenticator.
func (f *FailureFloor) Authenticate(ctx context.Context, req server.LoginRequest) (*server.User, error) {
	now, after := f.now, f.after
	if now == nil {
		now = time.Now
	}
	if after == nil {
		after = time.After
	}
	deadline := now().Add(f.Min)
	u, err := f.Auth.Authenticate(ctx, req)
	if (err == nil && u != nil) || f.Min <= 0 {
		return u, err
	}
	if rest := deadline.Sub(now()); rest > 0 {
		select {
		case <-after(rest):
		case <-ctx.Done():
		}
	}
	return u, err
}
