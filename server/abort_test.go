package server_test

import (
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
)

// Commands sent while a transfer runs: ABOR acts at once, STAT and NOOP
// are answered at once when nothing waits before them, and the rest wait
// for the transfer; replies keep the order of the commands.

// telnetAbort is what classic clients send before ABOR: Telnet IP, then
// Telnet Synch (IAC DM, sent as urgent data, which the server reads
// inline).
var telnetAbort = string([]byte{0xff, 0xf4, 0xff, 0xf2})

const bigSize = 1 << 30

func TestAbortQueuedBehindCommands(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reading bool // the client keeps reading the data connection
	}{
		{"client stalled", false},
		{"client reading", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := ftptest.NewServer(t, func(c *server.Config) {
				// Slow enough that a reading client cannot finish the
				// file before the ABOR.
				c.DownloadRate = 4 << 20
			})
			sparseFile(t, ts, "big", bigSize)
			c := ts.Dial(t)
			c.Login(ftptest.User, ftptest.Password)
			dc := c.Open("EPSV", "RETR big")
			got := make(chan int64, 1)
			if tc.reading {
				go func() {
					n, _ := io.Copy(io.Discard, dc)
					got <- n
				}()
			}
			// PWD and STAT are queued behind the transfer; ABOR aborts it
			// at once but answers last.
			if _, err := io.WriteString(c.NetConn(), "PWD\r\nSTAT\r\n"+telnetAbort+"ABOR\r\n"); err != nil {
				t.Fatal(err)
			}
			msgs := c.ExpectSeq(ftp.CodeTransferAborted, ftp.CodePathCreated, ftp.CodeSystemStatus, ftp.CodeTransferComplete)
			if !strings.Contains(msgs[2], "No data connection") {
				t.Errorf("STAT after the aborted transfer: %q", msgs[2])
			}
			if !strings.Contains(msgs[3], "ABOR successful") {
				t.Errorf("ABOR's reply: %q", msgs[3])
			}
			// The 426 came while the transfer was far from done.
			if !tc.reading {
				go func() {
					n, _ := io.Copy(io.Discard, dc)
					got <- n
				}()
			}
			_ = dc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n := <-got; n >= bigSize/2 {
				t.Errorf("client got %d of %d bytes: the ABOR waited for the transfer", n, bigSize)
			}
			c.Want(ftp.CodeOK, "NOOP")
		})
	}
}

func TestStatAndNoopDuringTransfer(t *testing.T) {
	ts := ftptest.NewServer(t)
	sparseFile(t, ts, "big", bigSize)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	dc := c.Open("EPSV", "RETR big")
	defer dc.Close()
	// The client reads nothing: the transfer is stalled, and still STAT
	// and NOOP are answered, STAT with the transfer's progress.
	msg := c.Want(ftp.CodeSystemStatus, "STAT")
	if !strings.Contains(msg, "RETR /big: ") || !strings.Contains(msg, " of "+strconv.Itoa(bigSize)+" bytes moved") {
		t.Errorf("STAT during the transfer: %q", msg)
	}
	c.Want(ftp.CodeOK, "NOOP")
	// STAT with an argument reports on the transfer too (RFC 959 4.1.3).
	if msg := c.Want(ftp.CodeSystemStatus, "STAT /"); !strings.Contains(msg, "RETR /big") {
		t.Errorf("STAT / during the transfer: %q", msg)
	}
	c.Send(telnetAbort + "ABOR")
	c.ExpectSeq(ftp.CodeTransferAborted, ftp.CodeTransferComplete)
}

func TestQuitDuringTransferWaitsForIt(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.DownloadRate = 1 << 20 })
	data := testenv.RandomBytes(256 << 10)
	ts.WriteFile(t, "f", data)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	dc := c.Open("EPSV", "RETR f")
	c.Send("QUIT")
	if got := ftptest.ReadAll(t, dc); sum(got) != sum(data) {
		t.Fatalf("got %d bytes, want %d intact", len(got), len(data))
	}
	c.ExpectSeq(ftp.CodeTransferComplete, ftp.CodeClosing)
	_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.NetConn().Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after 221: read %d bytes, %v; want EOF", n, err)
	}
}

func TestQueuedCommandsRunInOrderAfterTransfer(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.DownloadRate = 1 << 20 })
	data := testenv.RandomBytes(512 << 10)
	ts.WriteFile(t, "f", data)
	ts.WriteFile(t, "g", []byte("second file"))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	dc := c.Open("EPSV", "RETR f")
	// Commands pipelined behind the transfer, and the start of a command
	// line: the session goroutine is woken up in the middle of that line
	// when the transfer ends, and must not lose it.
	if _, err := io.WriteString(c.NetConn(), "CWD /\r\nTYPE I\r\nSIZE g\r\nNO"); err != nil {
		t.Fatal(err)
	}
	if got := ftptest.ReadAll(t, dc); sum(got) != sum(data) {
		t.Fatalf("got %d bytes, want %d intact", len(got), len(data))
	}
	c.ExpectSeq(ftp.CodeTransferComplete, ftp.CodeFileActionOK, ftp.CodeOK, ftp.CodeFileStatus)
	c.Send("OP")
	c.Expect(ftp.CodeOK)
	conn := c.EPSV()
	c.Want(ftp.CodeFileStatusOK, "RETR g")
	if got := string(ftptest.ReadAll(t, conn)); got != "second file" {
		t.Fatalf("second download: %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
}

func TestFloodDuringTransferIsCut(t *testing.T) {
	ts := ftptest.NewServer(t)
	sparseFile(t, ts, "big", bigSize)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	dc := c.Open("EPSV", "RETR big")
	defer dc.Close()
	if _, err := io.WriteString(c.NetConn(), strings.Repeat("PWD\r\n", server.MaxQueued+1)); err != nil {
		t.Fatal(err)
	}
	c.Expect(ftp.CodeServiceUnavailable)
	_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c.NetConn()); isTimeout(err) {
		t.Fatalf("after 421: %v; want the connection closed", err)
	}
}
