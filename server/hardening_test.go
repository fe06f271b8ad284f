package server_test

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
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
)

// A passive listener that no transfer takes within the data-connect
// timeout is closed and its port released; a transfer command after that
// gets 425. Idle sessions that each sent PASV no longer exhaust the range.
func TestUnusedPassivePortIsReleased(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) {
		c.PassivePorts = ftptest.FreePorts(t, 2)
		c.DataConnectTimeout = 200 * time.Millisecond
	})
	ts.WriteFile(t, "f", []byte("data"))
	a, b := ts.Dial(t), ts.Dial(t)
	a.Login(ftptest.User, ftptest.Password)
	b.Login(ftptest.User, ftptest.Password)
	a.Want(ftp.CodeExtendedPassive, "EPSV")
	b.Want(ftp.CodePassive, "PASV")
	testenv.WaitFor(t, 10*time.Second, "both unused passive ports released", func() bool {
		return server.PortsHeld(ts.Server) == 0
	})
	if n := server.PassiveExpired(ts.Server); n != 2 {
		t.Fatalf("%d expired listeners counted, want 2", n)
	}
	msg := a.Want(ftp.CodeCantOpenData, "RETR f")
	if !strings.Contains(msg, "EPSV again") {
		t.Errorf("425 text %q does not say what to do", msg)
	}
	// The range serves a third session again, and a used listener does
	// not expire under its transfer.
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	if got := string(ftptest.ReadAll(t, c.Open("EPSV", "RETR f"))); got != "data" {
		t.Fatalf("after the release: %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
}

// The TLS handshake after AUTH TLS is part of logging in: it is bounded
// by what is left of the login timeout, not by the (longer) data-connect
// timeout.
func TestAuthTLSHandshakeBoundedByLoginTimeout(t *testing.T) {
	ts := ftptest.NewTLSServer(t, func(c *server.Config) {
		c.LoginTimeout = 300 * time.Millisecond
		c.DataConnectTimeout = time.Hour
	})
	c := ts.Dial(t)
	c.Want(ftp.CodeAuthOK, "AUTH TLS")
	// No handshake follows. The server gives up at the login deadline;
	// under the data-connect timeout it would wait an hour.
	_ = c.NetConn().SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := c.NetConn().Read(make([]byte, 1))
	if isTimeout(err) {
		t.Fatal("the server still waits for the handshake")
	}
	if err == nil && n > 0 {
		// A TLS alert is fine; then the end.
		_, err = io.ReadAll(c.NetConn())
		if isTimeout(err) {
			t.Fatal("the server still waits for the handshake")
		}
	}
}

// Past Shutdown's grace a running transfer is answered 426, then the
// session 421, before the connection closes.
func TestShutdownPastGraceAnswers426Then421(t *testing.T) {
	ts := ftptest.NewServer(t)
	sparseFile(t, ts, "big", bigSize)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	dc := c.Open("EPSV", "RETR big") // the client reads nothing: the transfer never ends
	defer dc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ts.Server.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want its context's deadline", err)
	}
	msgs := c.ExpectSeq(ftp.CodeTransferAborted, ftp.CodeServiceUnavailable)
	if !strings.Contains(msgs[0], "shutting down") {
		t.Errorf("426 text: %q", msgs[0])
	}
	_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c.NetConn()); isTimeout(err) {
		t.Fatal("connection not closed after 421")
	}
}

// An atomic upload's temporary cannot be reached by name from any
// command: not sized, downloaded, renamed, deleted, listed or entered,
// and no name with the prefix can be created.
func TestUploadTemporariesUnreachable(t *testing.T) {
	ts := ftptest.NewServer(t)
	ts.WriteFile(t, ".ferry-upload-1234", []byte("in flight"))
	if err := os.Mkdir(filepath.Join(ts.Root, ".ferry-upload-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	ts.WriteFile(t, ".ferry-upload-dir/f", []byte("x"))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	tmp := ".ferry-upload-1234"
	for _, cmd := range []string{"SIZE " + tmp, "MDTM " + tmp, "HASH " + tmp, "DELE " + tmp, "RNFR " + tmp,
		"MLST " + tmp, "STAT " + tmp, "CWD .ferry-upload-dir", "SIZE .ferry-upload-dir/f", "MLSD .ferry-upload-dir",
		"RMD .ferry-upload-dir", "SITE CHMOD 600 " + tmp, "MFMT 20200101000000 " + tmp, "AVBL .ferry-upload-dir"} {
		c.Want(ftp.CodeFileActionDenied, cmd)
	}
	for _, cmd := range []string{"RETR " + tmp, "LIST " + tmp, "NLST .ferry-upload-dir"} {
		c.Want(ftp.CodeExtendedPassive, "EPSV")
		c.Want(ftp.CodeFileActionDenied, cmd)
	}
	for _, cmd := range []string{"STOR " + tmp, "APPE " + tmp, "STOR .ferry-upload-dir/g", "MKD .ferry-upload-new", "STOU .ferry-upload-x"} {
		c.Want(ftp.CodeExtendedPassive, "EPSV")
		c.Want(ftp.CodeBadFileName, cmd)
	}
	ts.WriteFile(t, "plain", []byte("p"))
	c.Want(ftp.CodeFilePending, "RNFR plain")
	c.Want(ftp.CodeBadFileName, "RNTO "+tmp)
	if got := string(ts.ReadFile(t, tmp)); got != "in flight" {
		t.Fatalf("the temporary changed: %q", got)
	}
}

// MKD, and RNTO of a directory, stop at the configured depth (553), so
// that the start-up sweep and every walker cover the whole tree; files
// may still sit in the deepest directory.
func TestDirectoryDepthLimit(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.MaxDepth = 3 })
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	for _, d := range []string{"a", "a/b", "a/b/c"} {
		c.Want(ftp.CodePathCreated, "MKD "+d)
	}
	if msg := c.Want(ftp.CodeBadFileName, "MKD a/b/c/d"); !strings.Contains(msg, "3 levels") {
		t.Errorf("553 text: %q", msg)
	}
	c.Want(ftp.CodeFileActionOK, "CWD /a/b/c")
	c.Want(ftp.CodeBadFileName, "MKD d")
	c.Want(ftp.CodeFileActionOK, "CWD /")
	ftptest.WriteAll(t, c.Open("EPSV", "STOR a/b/c/file"), []byte("leaf"))
	c.Expect(ftp.CodeTransferComplete)
	c.Want(ftp.CodePathCreated, "MKD x")
	c.Want(ftp.CodeFilePending, "RNFR x")
	c.Want(ftp.CodeBadFileName, "RNTO a/b/c/x")
	c.Want(ftp.CodeFilePending, "RNFR a/b/c/file")
	c.Want(ftp.CodeFileActionOK, "RNTO a/b/c/renamed") // a file: no limit
	if _, err := os.Stat(filepath.Join(ts.Root, "a/b/c/d")); !os.IsNotExist(err) {
		t.Fatalf("refused MKD created the directory: %v", err)
	}
}

func TestDirectoryDepthLimitBounds(t *testing.T) {
	for _, d := range []int{-1, server.MaxMaxDepth + 1} {
		if _, err := server.New(server.Config{Auth: noLogins{}, MaxDepth: d}); err == nil {
			t.Errorf("MaxDepth %d accepted", d)
		}
	}
}

// An in-place upload that fails on the server's side (here the quota)
// is rolled back to the file as it was when the transfer started: APPE
// leaves the old file untouched, REST+STOR the file cut at its offset,
// and a new file is removed. Uploads the client cuts keep what arrived.
func TestInPlaceUploadRollsBack(t *testing.T) {
	ts := ftptest.NewServer(t, ftptest.UserQuota(ftptest.User, server.Quota{Bytes: 1500}),
		func(c *server.Config) { c.AtomicUploads = true })
	old := testenv.RandomBytes(1000)
	ts.WriteFile(t, "f", old)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)

	// APPE of 1000 bytes over a quota with 500 left: 552, f unchanged.
	ftptest.WriteAll(t, c.Open("EPSV", "APPE f"), testenv.RandomBytes(1000))
	c.Expect(ftp.CodeExceededStorage)
	if got := ts.ReadFile(t, "f"); sum(got) != sum(old) {
		t.Fatalf("APPE over quota left f changed: %d bytes", len(got))
	}
	// The quota charged nothing for it: 500 bytes still fit.
	ftptest.WriteAll(t, c.Open("EPSV", "APPE f"), testenv.RandomBytes(500))
	c.Expect(ftp.CodeTransferComplete)
	c.Want(ftp.CodeFileActionOK, "DELE f")
	ts.WriteFile(t, "g", old)

	// REST 400 + STOR of 2000 bytes: g is cut at 400 (what the client
	// asked for), then writes stop at the quota; g ends at 400 bytes.
	c.Want(ftp.CodeFilePending, "REST 400")
	ftptest.WriteAll(t, c.Open("EPSV", "STOR g"), testenv.RandomBytes(2000))
	c.Expect(ftp.CodeExceededStorage)
	if got := ts.ReadFile(t, "g"); sum(got) != sum(old[:400]) {
		t.Fatalf("REST+STOR over quota: g has %d bytes, want its first 400", len(got))
	}

	// APPE to a new name over the quota: the name is gone again.
	ftptest.WriteAll(t, c.Open("EPSV", "APPE new"), testenv.RandomBytes(3000))
	c.Expect(ftp.CodeExceededStorage)
	if _, err := os.Stat(filepath.Join(ts.Root, "new")); !os.IsNotExist(err) {
		t.Fatalf("failed APPE to a new name left it: %v", err)
	}
}

// An APPE cut by the client keeps what arrived, for a later resume.
func TestAppendCutByClientKeepsBytes(t *testing.T) {
	ts := ftptest.NewServer(t)
	old := []byte("old content\n")
	ts.WriteFile(t, "f", old)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	dc := c.Open("EPSV", "APPE f")
	part := testenv.RandomBytes(64 << 10)
	if _, err := dc.Write(part); err != nil {
		t.Fatal(err)
	}
	// STAT reports when the server has them all.
	testenv.WaitFor(t, 10*time.Second, "the server to receive the bytes", func() bool {
		return strings.Contains(c.Want(ftp.CodeSystemStatus, "STAT"), ": 65536 bytes moved")
	})
	// A reset, not a clean close (which would be the end of the file).
	_ = dc.(*net.TCPConn).SetLinger(0)
	dc.Close()
	c.Expect(ftp.CodeTransferAborted)
	got := ts.ReadFile(t, "f")
	if len(got) != len(old)+len(part) || sum(got[len(old):]) != sum(part) {
		t.Fatalf("f has %d bytes after a cut APPE, want the old %d and the %d that arrived", len(got), len(old), len(part))
	}
}

// limits.min_rate cuts a transfer slower than it over its window, even
// one that keeps moving (which the stall rule never cuts); off, the same
// client completes.
func TestMinRateCutsTrickle(t *testing.T) {
	for _, on := range []bool{true, false} {
		ts := ftptest.NewServer(t, func(c *server.Config) {
			if on {
				c.MinRate = 16 << 20 // far above what the client below reads
				c.MinRateWindow = 300 * time.Millisecond
			}
		})
		// More than the socket buffers take, so that the client's pace
		// is what the server sees after the first window.
		data := testenv.RandomBytes(8 << 20)
		ts.WriteFile(t, "f", data)
		c := ts.Dial(t)
		c.Login(ftptest.User, ftptest.Password)
		dc := c.Open("EPSV", "RETR f")
		_ = dc.(*net.TCPConn).SetReadBuffer(64 << 10)
		var got []byte
		buf := make([]byte, 64<<10)
		for {
			_ = dc.SetReadDeadline(time.Now().Add(20 * time.Second))
			n, err := dc.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
			time.Sleep(20 * time.Millisecond) // about 3 MiB/s at most
		}
		code, msg := c.Next()
		switch {
		case on && (code != ftp.CodeTransferAborted || !strings.Contains(msg, "minimum rate")):
			t.Fatalf("min_rate on: %d %q after %d bytes, want 426 for the rate", code, msg, len(got))
		case !on && (code != ftp.CodeTransferComplete || len(got) != len(data)):
			t.Fatalf("min_rate off: %d %q after %d of %d bytes", code, msg, len(got), len(data))
		}
	}
}
