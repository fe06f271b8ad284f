package server

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// Commands sent while a transfer runs: ABOR acts at once, STAT and NOOP
// are answered at once when nothing waits before them, and the rest wait
// for the transfer; replies keep the order of the commands.

// sparseFile makes a file of size bytes in the server's root that costs
// no disk.
func (ts *testServer) sparseFile(t *testing.T, name string, size int64) {
	t.Helper()
	f, err := os.Create(filepath.Join(ts.root, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// next reads one reply, whatever its code.
func (c *ctrl) next() (int, string) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	code, msg, err := c.r.ReadResponse(0)
	if err != nil && code == 0 {
		c.t.Fatalf("reading reply: %v", err)
	}
	return code, msg
}

// expectSeq reads len(codes) replies and fails unless they have these
// codes, in this order.
func (c *ctrl) expectSeq(codes ...int) []string {
	c.t.Helper()
	var got []int
	var msgs []string
	for range codes {
		code, msg := c.next()
		got = append(got, code)
		msgs = append(msgs, msg)
	}
	for i := range codes {
		if got[i] != codes[i] {
			c.t.Fatalf("replies %v %q, want %v", got, msgs, codes)
		}
	}
	return msgs
}

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
			ts := startServer(t, func(c *Config) {
				// Slow enough that a reading client cannot finish the
				// file before the ABOR.
				c.DownloadRate = 4 << 20
			})
			ts.sparseFile(t, "big", bigSize)
			c := dial(t, ts.addr)
			c.login("alice")
			dc := c.open("EPSV", "RETR big")
			got := make(chan int64, 1)
			if tc.reading {
				go func() {
					n, _ := io.Copy(io.Discard, dc)
					got <- n
				}()
			}
			// PWD and STAT are queued behind the transfer; ABOR aborts it
			// at once but answers last.
			if _, err := io.WriteString(c.conn, "PWD\r\nSTAT\r\n"+telnetAbort+"ABOR\r\n"); err != nil {
				t.Fatal(err)
			}
			msgs := c.expectSeq(ftp.CodeTransferAborted, ftp.CodePathCreated, ftp.CodeSystemStatus, ftp.CodeTransferComplete)
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
			c.cmd(ftp.CodeOK, "NOOP")
		})
	}
}

func TestStatAndNoopDuringTransfer(t *testing.T) {
	ts := startServer(t, nil)
	ts.sparseFile(t, "big", bigSize)
	c := dial(t, ts.addr)
	c.login("alice")
	dc := c.open("EPSV", "RETR big")
	defer dc.Close()
	// The client reads nothing: the transfer is stalled, and still STAT
	// and NOOP are answered, STAT with the transfer's progress.
	msg := c.cmd(ftp.CodeSystemStatus, "STAT")
	if !strings.Contains(msg, "RETR /big: ") || !strings.Contains(msg, " of "+strconv.Itoa(bigSize)+" bytes moved") {
		t.Errorf("STAT during the transfer: %q", msg)
	}
	c.cmd(ftp.CodeOK, "NOOP")
	// STAT with an argument reports on the transfer too (RFC 959 4.1.3).
	if msg := c.cmd(ftp.CodeSystemStatus, "STAT /"); !strings.Contains(msg, "RETR /big") {
		t.Errorf("STAT / during the transfer: %q", msg)
	}
	c.send(telnetAbort + "ABOR")
	c.expectSeq(ftp.CodeTransferAborted, ftp.CodeTransferComplete)
}

func TestQuitDuringTransferWaitsForIt(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.DownloadRate = 1 << 20 })
	data := randomBytes(256 << 10)
	ts.write(t, "f", data)
	c := dial(t, ts.addr)
	c.login("alice")
	dc := c.open("EPSV", "RETR f")
	c.send("QUIT")
	if got := readAll(t, dc); sum(got) != sum(data) {
		t.Fatalf("got %d bytes, want %d intact", len(got), len(data))
	}
	c.expectSeq(ftp.CodeTransferComplete, ftp.CodeClosing)
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.conn.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after 221: read %d bytes, %v; want EOF", n, err)
	}
}

func TestQueuedCommandsRunInOrderAfterTransfer(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.DownloadRate = 1 << 20 })
	data := randomBytes(512 << 10)
	ts.write(t, "f", data)
	ts.write(t, "g", []byte("second file"))
	c := dial(t, ts.addr)
	c.login("alice")
	dc := c.open("EPSV", "RETR f")
	// Commands pipelined behind the transfer, and the start of a command
	// line: the session goroutine is woken up in the middle of that line
	// when the transfer ends, and must not lose it.
	if _, err := io.WriteString(c.conn, "CWD /\r\nTYPE I\r\nSIZE g\r\nNO"); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, dc); sum(got) != sum(data) {
		t.Fatalf("got %d bytes, want %d intact", len(got), len(data))
	}
	c.expectSeq(ftp.CodeTransferComplete, ftp.CodeFileActionOK, ftp.CodeOK, ftp.CodeFileStatus)
	c.send("OP")
	c.expect(ftp.CodeOK)
	conn := c.epsv()
	c.cmd(ftp.CodeFileStatusOK, "RETR g")
	if got := string(readAll(t, conn)); got != "second file" {
		t.Fatalf("second download: %q", got)
	}
	c.expect(ftp.CodeTransferComplete)
}

func TestFloodDuringTransferIsCut(t *testing.T) {
	ts := startServer(t, nil)
	ts.sparseFile(t, "big", bigSize)
	c := dial(t, ts.addr)
	c.login("alice")
	dc := c.open("EPSV", "RETR big")
	defer dc.Close()
	if _, err := io.WriteString(c.conn, strings.Repeat("PWD\r\n", maxQueued+1)); err != nil {
		t.Fatal(err)
	}
	c.expect(ftp.CodeServiceUnavailable)
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c.conn); timeoutError(err) {
		t.Fatalf("after 421: %v; want the connection closed", err)
	}
}
