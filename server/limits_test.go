package server_test

import (
	"io"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
)

func TestMaxSessionsPerUser(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.MaxSessionsPerUser = 1 })
	a := ts.Dial(t)
	a.Login(ftptest.User, ftptest.Password)
	b := ts.Dial(t)
	b.Want(ftp.CodeNeedPassword, "USER alice")
	b.Want(ftp.CodeServiceUnavailable, "PASS "+ftptest.Password)
	// Other users are not affected, and the slot frees when alice leaves.
	c := ts.Dial(t)
	c.Login(ftptest.ReadOnlyUser, ftptest.Password)
	a.Want(ftp.CodeServiceReady, "REIN")
	d := ts.Dial(t)
	d.Login(ftptest.User, ftptest.Password)
}

// A user logging in again while another of their sessions transfers
// must not race with that transfer's limiter (found by -race in the CLI
// tests): logins swap the shared limits atomically.
func TestLoginDuringTransferNoRace(t *testing.T) {
	ts := ftptest.NewServer(t)
	ts.WriteFile(t, "f", testenv.RandomBytes(8<<20))
	a := ts.Dial(t)
	a.Login(ftptest.User, ftptest.Password)
	dc := a.Open("EPSV", "RETR f")
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(dc); done <- b }()
	for i := 0; i < 5; i++ {
		c := ts.Dial(t)
		c.Login(ftptest.User, ftptest.Password)
		c.Want(ftp.CodeClosing, "QUIT")
	}
	if got := <-done; len(got) != 8<<20 {
		t.Fatalf("transfer got %d bytes", len(got))
	}
	a.Expect(ftp.CodeTransferComplete)
}

// With a command rate, a client that sends faster is held back: its
// commands wait for tokens instead of being answered at once. The rate
// here (one command per 1000 s after a burst of two) makes the third
// command's wait certain, so the test reads the limiter, not a clock.
func TestCommandRate(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.CommandRate = 0.001; c.CommandBurst = 2 })
	c := ts.Dial(t)
	c.Send("NOOP")
	c.Send("NOOP")
	c.Send("NOOP")
	c.Expect(ftp.CodeOK)
	c.Expect(ftp.CodeOK)
	// The third NOOP is read and waits in the limiter (tokens below 0).
	testenv.WaitFor(t, 10*time.Second, "the limiter to hold the third command", func() bool {
		tokens := server.CommandTokens(ts.Server)
		return len(tokens) == 1 && tokens[0] < 0
	})
	_ = c.NetConn().SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if line, err := c.Reader().ReadLine(); err == nil {
		t.Fatalf("third command answered at once: %q", line)
	}
}
