package server

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/testenv"
)

// A passive listener that no transfer takes within the data-connect
// timeout is closed and its port released; a transfer command after that
// gets 425. Idle sessions that each sent PASV no longer exhaust the range.
func TestUnusedPassivePortIsReleased(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.PassivePorts = freePortRange(t, 2)
		c.DataConnectTimeout = 200 * time.Millisecond
	})
	ts.write(t, "f", []byte("data"))
	a, b := dial(t, ts.addr), dial(t, ts.addr)
	a.login("alice")
	b.login("alice")
	a.cmd(ftp.CodeExtendedPassive, "EPSV")
	b.cmd(ftp.CodePassive, "PASV")
	testenv.WaitFor(t, 10*time.Second, "both unused passive ports released", func() bool {
		return ts.srv.ports.held() == 0
	})
	if n := ts.srv.passiveExpired.Load(); n != 2 {
		t.Fatalf("%d expired listeners counted, want 2", n)
	}
	msg := a.cmd(ftp.CodeCantOpenData, "RETR f")
	if !strings.Contains(msg, "EPSV again") {
		t.Errorf("425 text %q does not say what to do", msg)
	}
	// The range serves a third session again, and a used listener does
	// not expire under its transfer.
	c := dial(t, ts.addr)
	c.login("alice")
	if got := string(readAll(t, c.open("EPSV", "RETR f"))); got != "data" {
		t.Fatalf("after the release: %q", got)
	}
	c.expect(ftp.CodeTransferComplete)
}

// The TLS handshake after AUTH TLS is part of logging in: it is bounded
// by what is left of the login timeout, not by the (longer) data-connect
// timeout.
func TestAuthTLSHandshakeBoundedByLoginTimeout(t *testing.T) {
	cert := testenv.SelfSigned(t, "localhost")
	ts := startServer(t, func(c *Config) {
		c.TLS = cert.ServerConfig()
		c.LoginTimeout = 300 * time.Millisecond
		c.DataConnectTimeout = time.Hour
	})
	c := dial(t, ts.addr)
	c.cmd(ftp.CodeAuthOK, "AUTH TLS")
	// No handshake follows. The server gives up at the login deadline;
	// under the data-connect timeout it would wait an hour.
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := c.conn.Read(make([]byte, 1))
	if timeoutError(err) {
		t.Fatal("the server still waits for the handshake")
	}
	if err == nil && n > 0 {
		// A TLS alert is fine; then the end.
		_, err = io.ReadAll(c.conn)
		if timeoutError(err) {
			t.Fatal("the server still waits for the handshake")
		}
	}
}

// Past Shutdown's grace a running transfer is answered 426, then the
// session 421, before the connection closes.
func TestShutdownPastGraceAnswers426Then421(t *testing.T) {
	ts := startServer(t, nil)
	ts.sparseFile(t, "big", bigSize)
	c := dial(t, ts.addr)
	c.login("alice")
	dc := c.open("EPSV", "RETR big") // the client reads nothing: the transfer never ends
	defer dc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want its context's deadline", err)
	}
	msgs := c.expectSeq(ftp.CodeTransferAborted, ftp.CodeServiceUnavailable)
	if !strings.Contains(msgs[0], "shutting down") {
		t.Errorf("426 text: %q", msgs[0])
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c.conn); timeoutError(err) {
		t.Fatal("connection not closed after 421")
	}
}

// An atomic upload's temporary cannot be reached by name from any
// command: not sized, downloaded, renamed, deleted, listed or entered,
// and no name with the prefix can be created.
func TestUploadTemporariesUnreachable(t *testing.T) {
	ts := startServer(t, nil)
	ts.write(t, ".ferry-upload-1234", []byte("in flight"))
	if err := os.Mkdir(filepath.Join(ts.root, ".ferry-upload-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	ts.write(t, ".ferry-upload-dir/f", []byte("x"))
	c := dial(t, ts.addr)
	c.login("alice")
	tmp := ".ferry-upload-1234"
	for _, cmd := range []string{"SIZE " + tmp, "MDTM " + tmp, "HASH " + tmp, "DELE " + tmp, "RNFR " + tmp,
		"MLST " + tmp, "STAT " + tmp, "CWD .ferry-upload-dir", "SIZE .ferry-upload-dir/f", "MLSD .ferry-upload-dir",
		"RMD .ferry-upload-dir", "SITE CHMOD 600 " + tmp, "MFMT 20200101000000 " + tmp, "AVBL .ferry-upload-dir"} {
		c.cmd(ftp.CodeFileActionDenied, cmd)
	}
	for _, cmd := range []string{"RETR " + tmp, "LIST " + tmp, "NLST .ferry-upload-dir"} {
		c.cmd(ftp.CodeExtendedPassive, "EPSV")
		c.cmd(ftp.CodeFileActionDenied, cmd)
	}
	for _, cmd := range []string{"STOR " + tmp, "APPE " + tmp, "STOR .ferry-upload-dir/g", "MKD .ferry-upload-new", "STOU .ferry-upload-x"} {
		c.cmd(ftp.CodeExtendedPassive, "EPSV")
		c.cmd(ftp.CodeBadFileName, cmd)
	}
	ts.write(t, "plain", []byte("p"))
	c.cmd(ftp.CodeFilePending, "RNFR plain")
	c.cmd(ftp.CodeBadFileName, "RNTO "+tmp)
	if got := string(ts.read(t, tmp)); got != "in flight" {
		t.Fatalf("the temporary changed: %q", got)
	}
}

// MKD, and RNTO of a directory, stop at the configured depth (553), so
// that the start-up sweep and every walker cover the whole tree; files
// may still sit in the deepest directory.
func TestDirectoryDepthLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxDepth = 3 })
	c := dial(t, ts.addr)
	c.login("alice")
	for _, d := range []string{"a", "a/b", "a/b/c"} {
		c.cmd(ftp.CodePathCreated, "MKD "+d)
	}
	if msg := c.cmd(ftp.CodeBadFileName, "MKD a/b/c/d"); !strings.Contains(msg, "3 levels") {
		t.Errorf("553 text: %q", msg)
	}
	c.cmd(ftp.CodeFileActionOK, "CWD /a/b/c")
	c.cmd(ftp.CodeBadFileName, "MKD d")
	c.cmd(ftp.CodeFileActionOK, "CWD /")
	writeAll(t, c.open("EPSV", "STOR a/b/c/file"), []byte("leaf"))
	c.expect(ftp.CodeTransferComplete)
	c.cmd(ftp.CodePathCreated, "MKD x")
	c.cmd(ftp.CodeFilePending, "RNFR x")
	c.cmd(ftp.CodeBadFileName, "RNTO a/b/c/x")
	c.cmd(ftp.CodeFilePending, "RNFR a/b/c/file")
	c.cmd(ftp.CodeFileActionOK, "RNTO a/b/c/renamed") // a file: no limit
	if _, err := os.Stat(filepath.Join(ts.root, "a/b/c/d")); !os.IsNotExist(err) {
		t.Fatalf("refused MKD created the directory: %v", err)
	}
}

func TestDirectoryDepthLimitBounds(t *testing.T) {
	for _, d := range []int{-1, MaxMaxDepth + 1} {
		if _, err := New(Config{Auth: testAuth{root: t.TempDir()}, MaxDepth: d}); err == nil {
			t.Errorf("MaxDepth %d accepted", d)
		}
	}
}

// An in-place upload that fails on the server's side (here the quota)
// is rolled back to the file as it was when the transfer started: APPE
// leaves the old file untouched, REST+STOR the file cut at its offset,
// and a new file is removed. Uploads the client cuts keep what arrived.
func TestInPlaceUploadRollsBack(t *testing.T) {
	ts := startQuotaServer(t, Quota{Bytes: 1500}, true)
	old := randomBytes(1000)
	ts.write(t, "f", old)
	c := dial(t, ts.addr)
	c.login("alice")

	// APPE of 1000 bytes over a quota with 500 left: 552, f unchanged.
	writeAll(t, c.open("EPSV", "APPE f"), randomBytes(1000))
	c.expect(ftp.CodeExceededStorage)
	if got := ts.read(t, "f"); sum(got) != sum(old) {
		t.Fatalf("APPE over quota left f changed: %d bytes", len(got))
	}
	// The quota charged nothing for it: 500 bytes still fit.
	writeAll(t, c.open("EPSV", "APPE f"), randomBytes(500))
	c.expect(ftp.CodeTransferComplete)
	c.cmd(ftp.CodeFileActionOK, "DELE f")
	ts.write(t, "g", old)

	// REST 400 + STOR of 2000 bytes: g is cut at 400 (what the client
	// asked for), then writes stop at the quota; g ends at 400 bytes.
	c.cmd(ftp.CodeFilePending, "REST 400")
	writeAll(t, c.open("EPSV", "STOR g"), randomBytes(2000))
	c.expect(ftp.CodeExceededStorage)
	if got := ts.read(t, "g"); sum(got) != sum(old[:400]) {
		t.Fatalf("REST+STOR over quota: g has %d bytes, want its first 400", len(got))
	}

	// APPE to a new name over the quota: the name is gone again.
	writeAll(t, c.open("EPSV", "APPE new"), randomBytes(3000))
	c.expect(ftp.CodeExceededStorage)
	if _, err := os.Stat(filepath.Join(ts.root, "new")); !os.IsNotExist(err) {
		t.Fatalf("failed APPE to a new name left it: %v", err)
	}
}

// An APPE cut by the client keeps what arrived, for a later resume.
func TestAppendCutByClientKeepsBytes(t *testing.T) {
	ts := startServer(t, nil)
	old := []byte("old content\n")
	ts.write(t, "f", old)
	c := dial(t, ts.addr)
	c.login("alice")
	dc := c.open("EPSV", "APPE f")
	part := randomBytes(64 << 10)
	if _, err := dc.Write(part); err != nil {
		t.Fatal(err)
	}
	// STAT reports when the server has them all.
	testenv.WaitFor(t, 10*time.Second, "the server to receive the bytes", func() bool {
		return strings.Contains(c.cmd(ftp.CodeSystemStatus, "STAT"), ": 65536 bytes moved")
	})
	// A reset, not a clean close (which would be the end of the file).
	_ = dc.(*net.TCPConn).SetLinger(0)
	dc.Close()
	c.expect(ftp.CodeTransferAborted)
	got := ts.read(t, "f")
	if len(got) != len(old)+len(part) || sum(got[len(old):]) != sum(part) {
		t.Fatalf("f has %d bytes after a cut APPE, want the old %d and the %d that arrived", len(got), len(old), len(part))
	}
}
