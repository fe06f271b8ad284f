//go:build linux

package server

import (
	"bytes"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/testenv"
	"golang.org/x/sys/unix"
)

// pendingOf turns the server end of a loopback pair into the bare
// descriptor the inline path works on, as acceptPending returns it.
func pendingOf(t *testing.T, c *net.TCPConn) pendingConn {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	var derr error
	if err := raw.Control(func(cfd uintptr) { fd, derr = unix.Dup(int(cfd)) }); err != nil || derr != nil {
		t.Fatal(err, derr)
	}
	_ = c.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	return pendingConn{fd: fd}
}

// When the send buffer takes only part of the file, the inline sendfile
// returns what it moved without waiting, and the ordinary path sends
// the rest over the connection handed to the netpoller.
func TestInlineSendfilePartialThenRest(t *testing.T) {
	data := testenv.RandomBytes(4 << 20)
	f := testFile(t, data)
	tcp, cli := loopbackPair(t)
	if err := tcp.SetWriteBuffer(4096); err != nil {
		t.Fatal(err)
	}
	pc := pendingOf(t, tcp)
	n := pc.sendfile(f, int64(len(data)))
	if n <= 0 || n >= int64(len(data)) {
		t.Fatalf("inline sendfile moved %d of %d bytes into small buffers, want part", n, len(data))
	}
	srv, err := pc.netConn()
	if err != nil {
		t.Fatal(err)
	}
	if fcntl, err := unix.FcntlInt(uintptr(pc.fd), unix.F_GETFD, 0); err == nil {
		t.Fatalf("descriptor %d still open after netConn (flags %d)", pc.fd, fcntl)
	}
	// Back to a sane buffer for the rest.
	if err := srv.(*net.TCPConn).SetWriteBuffer(256 << 10); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := sendData(srv, f, int64(len(data))-n, false, 10*time.Second, new(atomic.Int64))
		srv.Close()
		done <- err
	}()
	got, rerr := readSlowly(cli, 64<<10, 0)
	if err := <-done; err != nil || rerr != nil {
		t.Fatalf("send %v, receive %v", err, rerr)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("received %d bytes, want %d, or content differs", len(got), len(data))
	}
}

// A small file sent inline and then closed leaves in one segment: the
// data carries the FIN (the socket is corked until the close).
func TestInlineSendfileDataAndFINInOneSegment(t *testing.T) {
	data := testenv.RandomBytes(4096)
	f := testFile(t, data)
	tcp, cli := loopbackPair(t)
	segsIn := func() uint32 {
		t.Helper()
		raw, err := cli.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var info *unix.TCPInfo
		var ierr error
		if err := raw.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || ierr != nil {
			t.Fatal(err, ierr)
		}
		return info.Segs_in
	}
	before := segsIn()
	pc := pendingOf(t, tcp)
	if n := pc.sendfile(f, int64(len(data))); n != int64(len(data)) {
		t.Fatalf("inline sendfile moved %d of %d bytes", n, len(data))
	}
	if err := pc.close(); err != nil {
		t.Fatal(err)
	}
	got, err := readSlowly(cli, 64<<10, 0)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("received %d bytes (%v)", len(got), err)
	}
	if segs := segsIn() - before; segs != 1 {
		t.Fatalf("data and FIN came in %d segments, want 1", segs)
	}
}

// A download through the sendfile path is corked (full segments only),
// and all of it still arrives once the connection closes.
func TestSendfileDownloadCorked(t *testing.T) {
	data := testenv.RandomBytes(3<<20 + 123)
	f := testFile(t, data)
	srv, cli := loopbackPair(t)
	done := make(chan error, 1)
	corked := make(chan int, 1)
	go func() {
		_, err := sendData(srv, f, int64(len(data)), false, 10*time.Second, new(atomic.Int64))
		raw, _ := srv.SyscallConn()
		_ = raw.Control(func(fd uintptr) {
			v, _ := unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_CORK)
			corked <- v
		})
		srv.Close()
		done <- err
	}()
	got, rerr := readSlowly(cli, 256<<10, 0)
	if err := <-done; err != nil || rerr != nil {
		t.Fatalf("send %v, receive %v", err, rerr)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("received %d bytes, want %d, or content differs", len(got), len(data))
	}
	if v := <-corked; v != 1 {
		t.Fatalf("TCP_CORK = %d during the download, want 1", v)
	}
}
