package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testenv"
)

// The stall rule, on every copy path: a transfer fails only once nothing
// has moved for the stall timeout, and a slow peer that keeps moving
// bytes is never cut, however long one read or write takes.

// stallPath is one way a transfer's bytes move.
type stallPath struct {
	name string
	// run moves data between a server connection (stall-guarded, as
	// dataConn.open makes it) and returns the server side's result; peer
	// drives the client end.
	run func(t *testing.T, srv net.Conn, data []byte, stall time.Duration) (int64, error)
	// peer is the client end as the server sees it: TLS where the
	// server speaks TLS.
	peer func(t *testing.T, cli net.Conn) net.Conn
	// upload: the client sends.
	upload bool
}

func stallPaths(t *testing.T) []stallPath {
	cert := testenv.SelfSigned(t, "localhost")
	serverTLS := func(c net.Conn) *tls.Conn {
		return tls.Server(&batchConn{Conn: c}, cert.ServerConfig())
	}
	clientTLS := func(_ *testing.T, c net.Conn) net.Conn {
		return tls.Client(c, cert.ClientConfig("localhost"))
	}
	plain := func(_ *testing.T, c net.Conn) net.Conn { return c }
	download := func(ascii bool) func(*testing.T, net.Conn, []byte, time.Duration) (int64, error) {
		return func(t *testing.T, srv net.Conn, data []byte, stall time.Duration) (int64, error) {
			return sendData(srv, bytes.NewReader(data), int64(len(data)), ascii, stall, new(atomic.Int64))
		}
	}
	return []stallPath{
		{name: "sendfile", peer: plain, run: func(t *testing.T, srv net.Conn, data []byte, stall time.Duration) (int64, error) {
			return sendData(srv, testFile(t, data), int64(len(data)), false, stall, new(atomic.Int64))
		}},
		{name: "read and write", peer: plain, run: download(false)},
		{name: "ASCII", peer: plain, run: download(true)},
		{name: "TLS download", peer: clientTLS, run: func(t *testing.T, srv net.Conn, data []byte, stall time.Duration) (int64, error) {
			tc := serverTLS(srv)
			if err := tc.Handshake(); err != nil {
				return 0, err
			}
			tc.NetConn().(*batchConn).start()
			n, err := sendData(tc, bytes.NewReader(data), int64(len(data)), false, stall, new(atomic.Int64))
			if err == nil {
				err = tc.NetConn().(*batchConn).stop()
			}
			return n, err
		}},
		{name: "upload", upload: true, peer: plain, run: func(t *testing.T, srv net.Conn, data []byte, stall time.Duration) (int64, error) {
			var got bytes.Buffer
			n, err := receiveData(srv, &got, false, new(atomic.Int64))
			if err == nil && !bytes.Equal(got.Bytes(), data) {
				err = errors.New("upload differs")
			}
			return n, err
		}},
		{name: "TLS upload", upload: true, peer: clientTLS, run: func(t *testing.T, srv net.Conn, data []byte, stall time.Duration) (int64, error) {
			var got bytes.Buffer
			n, err := receiveData(serverTLS(srv), &got, false, new(atomic.Int64))
			if err == nil && !bytes.Equal(got.Bytes(), data) {
				err = errors.New("upload differs")
			}
			return n, err
		}},
	}
}

// slowPair is loopbackPair with an Ethernet-sized MSS (loopback's is
// 64 KiB): with segments that large, a slowly read receive buffer
// reopens its window in steps big enough that Linux's receiver-side
// silly-window avoidance leaves them to the sender's persist timer,
// whose backoff soon exceeds a short stall period; a real network's MSS
// does not.
func slowPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	mss := func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 1460)
		}); err != nil {
			return err
		}
		return serr
	}
	lc := net.ListenConfig{Control: mss}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	d := net.Dialer{Control: mss, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

// smallBuffers keeps the kernel from parking the whole transfer in
// socket buffers, so that the sender waits on the receiver. The receive
// buffer stays above two loopback segments, or window updates would wait
// for the persist timer.
func smallBuffers(t *testing.T, srv, cli *net.TCPConn) {
	t.Helper()
	for _, err := range []error{srv.SetWriteBuffer(64 << 10), srv.SetReadBuffer(256 << 10),
		cli.SetWriteBuffer(64 << 10), cli.SetReadBuffer(256 << 10)} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A slow peer is not cut on any path: it keeps moving bytes. (That one
// write may take longer than the stall period and still not be a stall
// is TestStallConnPartialWritesAreProgress; a real slow reader on
// loopback mostly measures the kernel's persist timer.)
func TestStallRuleSlowPeerIsNotCut(t *testing.T) {
	for _, p := range stallPaths(t) {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			const pause = 50 * time.Millisecond
			data := make([]byte, 3<<20)
			for i := range data {
				data[i] = byte(i*7) | 1 // never LF: ASCII mode sends it as is
			}
			srvTCP, cliTCP := slowPair(t)
			smallBuffers(t, srvTCP, cliTCP)
			// Long against the peer's pauses, so a loaded machine or a
			// window update left to the persist timer is not a stall.
			const stall = time.Second
			srv := &stallConn{Conn: srvTCP, stall: stall}
			type res struct {
				n   int64
				err error
			}
			done := make(chan res, 1)
			go func() {
				n, err := p.run(t, srv, data, stall)
				srv.Close()
				done <- res{n, err}
			}()
			cli := p.peer(t, cliTCP)
			var perr error
			if p.upload {
				perr = writeSlowly(cli, data, 64<<10, pause)
				cli.Close()
			} else {
				var got []byte
				got, perr = readFullSlowly(cli, 64<<10, pause)
				if perr == nil && sha256.Sum256(got) != sha256.Sum256(data) {
					t.Errorf("received %d bytes, content differs", len(got))
				}
			}
			r := <-done
			// The transfer lasts several stall periods, but none of them
			// passes without progress.
			if r.err != nil || perr != nil {
				t.Fatalf("server: %d bytes, %v; client: %v", r.n, r.err, perr)
			}
		})
	}
}

// A peer that moves nothing at all is cut on every path, with the
// connection's timeout.
func TestStallRuleStalledPeerIsCut(t *testing.T) {
	for _, p := range stallPaths(t) {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			data := make([]byte, 8<<20)
			srvTCP, cliTCP := loopbackPair(t)
			smallBuffers(t, srvTCP, cliTCP)
			const stall = 200 * time.Millisecond
			srv := &stallConn{Conn: srvTCP, stall: stall}
			done := make(chan error, 1)
			var n int64
			go func() {
				var err error
				n, err = p.run(t, srv, data, stall)
				done <- err
			}()
			cli := p.peer(t, cliTCP)
			if tc, ok := cli.(*tls.Conn); ok {
				// The handshake moves bytes; after it, nothing does.
				_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
				if err := tc.Handshake(); err != nil {
					t.Fatal(err)
				}
			}
			if p.upload {
				// Some bytes, then silence with the connection open.
				if _, err := cli.Write(data[:1000]); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-done:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("after %d bytes: %v; want a timeout", n, err)
				}
				if n >= int64(len(data)) {
					t.Fatalf("moved all %d bytes with a peer that moves nothing", n)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("a stalled transfer was never cut")
			}
		})
	}
}

// readFullSlowly reads c to EOF, chunk bytes at a time (however many
// reads that takes: TLS returns a record at a time) with pause between.
func readFullSlowly(c net.Conn, chunk int, pause time.Duration) ([]byte, error) {
	var out bytes.Buffer
	buf := make([]byte, chunk)
	for {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := io.ReadFull(c, buf)
		out.Write(buf[:n])
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return out.Bytes(), nil
		case err != nil:
			return out.Bytes(), err
		}
		time.Sleep(pause)
	}
}

// trickleConn accepts a few bytes per write, each after a pause, and
// then reports the write deadline: a peer whose window opens a crack at
// a time. With stuck, it accepts nothing.
type trickleConn struct {
	net.Conn
	pause time.Duration
	stuck bool
	got   int
}

func (c *trickleConn) SetWriteDeadline(time.Time) error { return nil }

func (c *trickleConn) Write(p []byte) (int, error) {
	time.Sleep(c.pause)
	n := min(len(p), 100)
	if c.stuck {
		n = 0
	}
	c.got += n
	if n < len(p) {
		return n, os.ErrDeadlineExceeded
	}
	return n, nil
}

// One write that takes many stall periods, moving bytes all along, is a
// slow peer and completes; one that moves nothing for a stall period
// fails. (crypto/tls writes a 256 KiB batch of records in one write.)
func TestStallConnPartialWritesAreProgress(t *testing.T) {
	const stall = 100 * time.Millisecond
	slow := &trickleConn{pause: stall / 4}
	c := &stallConn{Conn: slow, stall: stall}
	p := make([]byte, 2000) // 20 writes of 100 bytes: 5 stall periods
	if n, err := c.Write(p); n != len(p) || err != nil {
		t.Fatalf("slow peer: wrote %d of %d: %v", n, len(p), err)
	}
	stuck := &stallConn{Conn: &trickleConn{pause: stall / 4, stuck: true}, stall: stall}
	if n, err := stuck.Write(p); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stuck peer: wrote %d, %v; want a timeout", n, err)
	}
}

// writeSlowly writes data in chunks with a pause between them.
func writeSlowly(c net.Conn, data []byte, chunk int, pause time.Duration) error {
	for len(data) > 0 {
		n := min(chunk, len(data))
		_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
		time.Sleep(pause)
	}
	if tc, ok := c.(*tls.Conn); ok {
		return tc.CloseWrite()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return nil
}

var _ io.Writer = (*stallConn)(nil)
