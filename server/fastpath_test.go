//go:build linux

package server

import (
	"bytes"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"golang.org/x/sys/unix"
)

// A small download whose data connection is already waiting finishes in
// the session goroutine; every other case takes the transfer goroutine,
// and the bytes are right either way.
func TestSmallRETRInline(t *testing.T) {
	ts := startServer(t, nil)
	small, big := randomBytes(4096), randomBytes(fastMax+1)
	ts.write(t, "small", small)
	ts.write(t, "big", big)
	c := dial(t, ts.addr)
	c.login("alice")
	c.cmd(ftp.CodeOK, "TYPE I")

	retr := func(name string, want []byte, inline int64) {
		t.Helper()
		dc := c.epsv()
		c.cmd(ftp.CodeFileStatusOK, "RETR "+name)
		if got := readAll(t, dc); !bytes.Equal(got, want) {
			t.Fatalf("RETR %s: %d bytes, want %d (content equal: %v)", name, len(got), len(want), bytes.Equal(got, want))
		}
		c.expect(ftp.CodeTransferComplete)
		if got := ts.srv.fastDone.Load(); got != inline {
			t.Fatalf("after RETR %s: %d inline downloads, want %d", name, got, inline)
		}
	}
	retr("small", small, 1)
	retr("big", big, 1) // over fastMax
	c.cmd(ftp.CodeFilePending, "REST 1000")
	retr("small", small[1000:], 2)

	// RETR before the client connects: there may be nothing to accept
	// yet (or the connection wins the race); the file arrives either way.
	before := ts.srv.fastDone.Load()
	port, _ := ftp.ParseEPSVReply(c.cmd(ftp.CodeExtendedPassive, "EPSV"))
	c.send("RETR small")
	dc, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	c.expect(ftp.CodeFileStatusOK)
	if got := readAll(t, dc); !bytes.Equal(got, small) {
		t.Fatalf("late connect: %d bytes", len(got))
	}
	c.expect(ftp.CodeTransferComplete)
	before = ts.srv.fastDone.Load()

	// ASCII mode converts line ends: never inline.
	c.cmd(ftp.CodeOK, "TYPE A")
	ts.write(t, "text", []byte("a\nb\n"))
	dc = c.epsv()
	c.cmd(ftp.CodeFileStatusOK, "RETR text")
	if got := string(readAll(t, dc)); got != "a\r\nb\r\n" {
		t.Fatalf("ASCII RETR: %q", got)
	}
	c.expect(ftp.CodeTransferComplete)
	if got := ts.srv.fastDone.Load(); got != before {
		t.Fatalf("ASCII download went inline (%d inline downloads, %d before)", got, before)
	}
}

// A stranger queued on the passive port ahead of the client is dropped
// by the inline accept, and the client still gets the file.
func TestInlineRETRDropsQueuedStranger(t *testing.T) {
	ts := startServer(t, nil)
	ts.write(t, "f", []byte("secret data"))
	c := dial(t, ts.addr)
	c.login("alice")
	port, _ := ftp.ParseEPSVReply(c.cmd(ftp.CodeExtendedPassive, "EPSV"))
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	thief, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer thief.Close()
	dc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	c.cmd(ftp.CodeFileStatusOK, "RETR f")
	if got := string(readAll(t, dc)); got != "secret data" {
		t.Fatalf("client got %q", got)
	}
	c.expect(ftp.CodeTransferComplete)
	_ = thief.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, _ := thief.Read(make([]byte, 64)); n != 0 {
		t.Fatal("stranger received data")
	}
}

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
	data := randomBytes(4 << 20)
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
	data := randomBytes(4096)
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
	data := randomBytes(3<<20 + 123)
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
