package server

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// loopbackPair returns both ends of a fresh loopback TCP connection.
func loopbackPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   *net.TCPConn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.AcceptTCP()
		ch <- res{c, err}
	}()
	client, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		client.Close()
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.c.Close(); client.Close() })
	return r.c, client
}

func testFile(t *testing.T, data []byte) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// readSlowly reads c to EOF, chunk bytes at a time with pause between reads
// (a slow client), and returns what it read.
func readSlowly(c net.Conn, chunk int, pause time.Duration) ([]byte, error) {
	var out bytes.Buffer
	buf := make([]byte, chunk)
	for {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
		time.Sleep(pause)
	}
}

// A client slower than one chunk per stall timeout is slow, not stalled:
// the download goes on as long as bytes move. Before chunks were cut at
// the deadline this failed with a timeout after the first stall period.
func TestSendfileSlowClientIsNotStalled(t *testing.T) {
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	f := testFile(t, data)
	srv, cli := loopbackPair(t)
	// Small buffers, so the sender waits on the reader instead of
	// parking the whole file in the kernel; the receive buffer stays above
	// two loopback segments (64 KiB each), or window updates would wait
	// for the persist timer and the client would look stalled.
	if err := srv.SetWriteBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	if err := cli.SetReadBuffer(256 << 10); err != nil {
		t.Fatal(err)
	}
	// The stall period is long against the reader's pauses, so that a
	// loaded machine (-race, parallel packages) or a window update left
	// to the persist timer (200 ms and more) is not taken for a stall.
	const stall = time.Second
	type res struct {
		n   int64
		err error
	}
	done := make(chan res, 1)
	go func() {
		n, err := sendData(srv, f, int64(len(data)), false, stall, new(atomic.Int64))
		srv.Close()
		done <- res{n, err}
	}()
	// 64 KiB every 50 ms moves 4 MiB in about 3.2 s: several stall
	// timeouts, but never a whole one without progress.
	got, rerr := readSlowly(cli, 64<<10, 50*time.Millisecond)
	r := <-done
	if r.err != nil || rerr != nil {
		t.Fatalf("send: %d bytes, %v; receive: %v", r.n, r.err, rerr)
	}
	if r.n != int64(len(data)) || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("sent %d, received %d bytes; content differs: %v", r.n, len(got), !bytes.Equal(got, data))
	}
}

// A peer that reads nothing at all is stalled: the download fails with a
// data-connection error once nothing moved for the stall timeout.
func TestSendfileStalledClientFails(t *testing.T) {
	f := testFile(t, make([]byte, 8<<20))
	srv, cli := loopbackPair(t)
	if err := srv.SetWriteBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	if err := cli.SetReadBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	n, err := sendData(srv, f, -1, false, 100*time.Millisecond, new(atomic.Int64))
	if !errors.As(err, new(dataErr)) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("sent %d bytes, err %v; want a data-connection timeout", n, err)
	}
	if n >= 8<<20 {
		t.Fatalf("sent all %d bytes to a peer that reads nothing", n)
	}
}

// The sendfile path stops at the size the 150 reply announced, even if
// the file is longer by then, and sends everything when size is unknown.
func TestSendfileStopsAtAnnouncedSize(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	for _, tc := range []struct {
		size int64
		want string
	}{
		{12, "0123456789ab"},
		{-1, string(data)},
		{0, ""},
		{40, string(data)}, // shrank since: ends at the real end
	} {
		f := testFile(t, data)
		srv, cli := loopbackPair(t)
		done := make(chan error, 1)
		go func() {
			_, err := sendData(srv, f, tc.size, false, time.Second, new(atomic.Int64))
			srv.Close()
			done <- err
		}()
		got, rerr := readSlowly(cli, 4096, 0)
		if err := <-done; err != nil || rerr != nil {
			t.Fatalf("size %d: send %v, receive %v", tc.size, err, rerr)
		}
		if string(got) != tc.want {
			t.Errorf("size %d: received %q, want %q", tc.size, got, tc.want)
		}
	}
}
