package server

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

func TestMaxSessionsPerUser(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxSessionsPerUser = 1 })
	a := dial(t, ts.addr)
	a.login("alice")
	b := dial(t, ts.addr)
	b.cmd(ftp.CodeNeedPassword, "USER alice")
	b.cmd(ftp.CodeServiceUnavailable, "PASS secret")
	// Other users are not affected, and the slot frees when alice leaves.
	c := dial(t, ts.addr)
	c.login("bob")
	a.cmd(ftp.CodeServiceReady, "REIN")
	d := dial(t, ts.addr)
	d.login("alice")
}

// With a rate configured, data connections are paced (and so leave the
// kernel copy path); without one, the raw TCP connection is used so that
// sendfile and splice apply.
func TestLimitConnSelection(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	plain := &session{srv: &Server{}}
	if got := plain.limitConn(context.Background(), a, false); got != a {
		t.Fatal("unlimited transfer was wrapped")
	}
	limited := &session{srv: &Server{down: newByteLimiter(1000)}}
	if _, ok := limited.limitConn(context.Background(), a, false).(*limitedConn); !ok {
		t.Fatal("download limit not applied")
	}
	if got := limited.limitConn(context.Background(), a, true); got != a {
		t.Fatal("download limit applied to an upload")
	}
	us := &userState{}
	us.limits.Store(&userRates{up: newByteLimiter(1000), upBPS: 1000})
	user := &session{srv: &Server{}, ustate: us}
	if _, ok := user.limitConn(context.Background(), a, true).(*limitedConn); !ok {
		t.Fatal("per-user upload limit not applied")
	}
}

// A write beyond what the bucket allows before the context's deadline is
// refused: the limiter really stands between the copy and the socket.
func TestLimitedConnPaces(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() { _, _ = readAllPipe(b) }()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	lc := &limitedConn{Conn: a, ctx: ctx, limiters: nil}
	lc.limiters = append(lc.limiters, newByteLimiter(1000)) // burst: one copy buffer
	n, err := lc.Write(make([]byte, 3*minRateBurst))
	if err == nil {
		t.Fatal("3 buckets' worth written at 1000 B/s within 50ms")
	}
	if n != minRateBurst {
		t.Fatalf("wrote %d bytes before pacing, want one bucket (%d)", n, minRateBurst)
	}
}

func readAllPipe(c net.Conn) (int, error) {
	buf := make([]byte, 32<<10)
	total := 0
	for {
		n, err := c.Read(buf)
		total += n
		if err != nil {
			return total, err
		}
	}
}

// A user logging in again while another of their sessions transfers
// must not race with that transfer's limiter (found by -race in the CLI
// tests): logins swap the shared limits atomically.
func TestLoginDuringTransferNoRace(t *testing.T) {
	ts := startServer(t, nil)
	ts.write(t, "f", randomBytes(8<<20))
	a := dial(t, ts.addr)
	a.login("alice")
	dc := a.open("EPSV", "RETR f")
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(dc); done <- b }()
	for i := 0; i < 5; i++ {
		c := dial(t, ts.addr)
		c.login("alice")
		c.cmd(ftp.CodeClosing, "QUIT")
	}
	if got := <-done; len(got) != 8<<20 {
		t.Fatalf("transfer got %d bytes", len(got))
	}
	a.expect(ftp.CodeTransferComplete)
}

// With a command rate, a client that sends faster is held back: its
// commands wait for tokens instead of being answered at once. The rate
// here (one command per 1000 s after a burst of two) makes the third
// command's wait certain, so the test reads the limiter, not a clock.
func TestCommandRate(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.CommandRate = 0.001; c.CommandBurst = 2 })
	c := dial(t, ts.addr)
	c.send("NOOP")
	c.send("NOOP")
	c.send("NOOP")
	c.expect(ftp.CodeOK)
	c.expect(ftp.CodeOK)
	// The third NOOP is read and waits in the limiter (tokens below 0).
	var sess *session
	deadline := time.Now().Add(10 * time.Second)
	for {
		ts.srv.mu.Lock()
		for s := range ts.srv.sessions {
			sess = s
		}
		ts.srv.mu.Unlock()
		if sess != nil && sess.cmdLimit.Tokens() < 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the third command was not held by the limiter")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if line, err := c.r.ReadLine(); err == nil {
		t.Fatalf("third command answered at once: %q", line)
	}
}
