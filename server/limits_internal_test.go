package server

import (
	"context"
	"net"
	"testing"
	"time"
)

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
