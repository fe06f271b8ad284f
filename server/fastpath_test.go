//go:build linux

package server_test

import (
	"bytes"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
)

// A small download whose data connection is already waiting finishes in
// the session goroutine; every other case takes the transfer goroutine,
// and the bytes are right either way.
func TestSmallRETRInline(t *testing.T) {
	ts := ftptest.NewServer(t)
	small, big := testenv.RandomBytes(4096), testenv.RandomBytes(server.FastMax+1)
	ts.WriteFile(t, "small", small)
	ts.WriteFile(t, "big", big)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	c.Want(ftp.CodeOK, "TYPE I")

	retr := func(name string, want []byte, inline int64) {
		t.Helper()
		dc := c.EPSV()
		c.Want(ftp.CodeFileStatusOK, "RETR "+name)
		if got := ftptest.ReadAll(t, dc); !bytes.Equal(got, want) {
			t.Fatalf("RETR %s: %d bytes, want %d (content equal: %v)", name, len(got), len(want), bytes.Equal(got, want))
		}
		c.Expect(ftp.CodeTransferComplete)
		if got := server.FastDone(ts.Server); got != inline {
			t.Fatalf("after RETR %s: %d inline downloads, want %d", name, got, inline)
		}
	}
	retr("small", small, 1)
	retr("big", big, 1) // over server.FastMax
	c.Want(ftp.CodeFilePending, "REST 1000")
	retr("small", small[1000:], 2)

	// RETR before the client connects: there may be nothing to accept
	// yet (or the connection wins the race); the file arrives either way.
	before := server.FastDone(ts.Server)
	port, _ := ftp.ParseEPSVReply(c.Want(ftp.CodeExtendedPassive, "EPSV"))
	c.Send("RETR small")
	dc, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	c.Expect(ftp.CodeFileStatusOK)
	if got := ftptest.ReadAll(t, dc); !bytes.Equal(got, small) {
		t.Fatalf("late connect: %d bytes", len(got))
	}
	c.Expect(ftp.CodeTransferComplete)
	before = server.FastDone(ts.Server)

	// ASCII mode converts line ends: never inline.
	c.Want(ftp.CodeOK, "TYPE A")
	ts.WriteFile(t, "text", []byte("a\nb\n"))
	dc = c.EPSV()
	c.Want(ftp.CodeFileStatusOK, "RETR text")
	if got := string(ftptest.ReadAll(t, dc)); got != "a\r\nb\r\n" {
		t.Fatalf("ASCII RETR: %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
	if got := server.FastDone(ts.Server); got != before {
		t.Fatalf("ASCII download went inline (%d inline downloads, %d before)", got, before)
	}
}

// A stranger queued on the passive port ahead of the client is dropped
// by the inline accept, and the client still gets the file.
func TestInlineRETRDropsQueuedStranger(t *testing.T) {
	ts := ftptest.NewServer(t)
	ts.WriteFile(t, "f", []byte("secret data"))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	port, _ := ftp.ParseEPSVReply(c.Want(ftp.CodeExtendedPassive, "EPSV"))
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
	c.Want(ftp.CodeFileStatusOK, "RETR f")
	if got := string(ftptest.ReadAll(t, dc)); got != "secret data" {
		t.Fatalf("client got %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
	_ = thief.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, _ := thief.Read(make([]byte, 64)); n != 0 {
		t.Fatal("stranger received data")
	}
}
