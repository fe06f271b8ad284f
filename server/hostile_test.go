package server_test

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
)

// A client dribbling a command one byte at a time (slowloris) is cut at
// the login timeout, however long it keeps dribbling.
func TestSlowlorisIsCut(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.LoginTimeout = 300 * time.Millisecond })
	conn, err := net.DialTimeout("tcp", ts.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	done := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(conn)
		done <- string(b)
	}()
	// 100 bytes at 50ms: 5 s of dribbling, far past the 300ms timeout.
	for i := 0; i < 100; i++ {
		if _, err := conn.Write([]byte{'A'}); err != nil {
			break // the server closed the connection: what we want
		}
		select {
		case out := <-done:
			if !strings.Contains(out, "421 ") {
				t.Fatalf("closed without 421: %q", out)
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	select {
	case out := <-done:
		if !strings.Contains(out, "421 ") {
			t.Fatalf("closed without 421: %q", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("slow client never cut off")
	}
}

// A thousand connections that connect and say nothing: the server keeps
// only the per-address limit of them and turns the rest away with 421.
func TestIdleConnectionFlood(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.MaxSessionsPerIP = 5; c.LoginTimeout = time.Minute })
	var refused, admitted int
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 1000; i++ {
		c, err := net.DialTimeout("tcp", ts.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		switch {
		case strings.HasPrefix(string(buf[:n]), "421 "):
			refused++
			c.Close()
		case strings.HasPrefix(string(buf[:n]), "220 "):
			admitted++
			conns = append(conns, c) // held open, silent
		default:
			t.Fatalf("connection %d got %q", i, buf[:n])
		}
	}
	if admitted != 5 || refused != 995 {
		t.Fatalf("admitted %d, refused %d; want 5 and 995", admitted, refused)
	}
	if n := server.Sessions(ts.Server); n != 5 {
		t.Fatalf("server holds %d sessions", n)
	}
}

// ABOR storms cost nothing and leave the session usable.
func TestAbortStorm(t *testing.T) {
	ts := ftptest.NewServer(t)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	var b strings.Builder
	for i := 0; i < 500; i++ {
		b.WriteString("ABOR\r\n")
	}
	if _, err := io.WriteString(c.NetConn(), b.String()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		c.Expect(ftp.CodeTransferComplete)
	}
	c.Want(ftp.CodeOK, "NOOP")
}

// Connections made to a passive port and never used are dropped when the
// next PASV replaces the listener; the session still holds one port.
func TestUnusedDataConnections(t *testing.T) {
	ts := ftptest.NewServer(t)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	port, _ := ftp.ParseEPSVReply(c.Want(ftp.CodeExtendedPassive, "EPSV"))
	var idle []net.Conn
	for i := 0; i < 20; i++ {
		dc, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), 5*time.Second)
		if err != nil {
			break // the backlog is full: also bounded
		}
		idle = append(idle, dc)
	}
	c.Want(ftp.CodeExtendedPassive, "EPSV")
	for _, dc := range idle {
		_ = dc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := dc.Read(make([]byte, 1)); n != 0 || err == nil || isTimeout(err) {
			t.Fatalf("unused data connection still open (n=%d, err=%v)", n, err)
		}
		dc.Close()
	}
	if held := server.PortsHeld(ts.Server); held != 1 {
		t.Fatalf("session holds %d ports", held)
	}
}

// A full disk during an upload answers 452 and, in atomic mode, leaves
// no partial file and no temporary behind.
func TestFullDiskUpload(t *testing.T) {
	testenv.Root(t)
	mount := testenv.Tool(t, "mount")
	umount := testenv.Tool(t, "umount")
	for _, atomic := range []bool{true, false} {
		t.Run("atomic="+strconv.FormatBool(atomic), func(t *testing.T) {
			ts := ftptest.NewServer(t, func(c *server.Config) { c.AtomicUploads = atomic })
			dir := filepath.Join(ts.Root, "small")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(mount, "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
				t.Fatalf("mount tmpfs: %v: %s", err, out)
			}
			t.Cleanup(func() { _ = exec.Command(umount, dir).Run() })
			c := ts.Dial(t)
			c.Login(ftptest.User, ftptest.Password)
			dc := c.Open("EPSV", "STOR small/big")
			_ = dc.SetWriteDeadline(time.Now().Add(20 * time.Second))
			_, _ = dc.Write(testenv.RandomBytes(4 << 20))
			dc.Close()
			c.Expect(ftp.CodeInsufficientSpace)
			entries, _ := os.ReadDir(dir)
			if atomic && len(entries) != 0 {
				t.Fatalf("atomic upload left %v on the full disk", entries)
			}
			c.Want(ftp.CodeOK, "NOOP")
		})
	}
}
