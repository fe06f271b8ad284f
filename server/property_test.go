package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
	"pgregory.net/rapid"
)

// TestRandomSessions drives sessions with random command sequences: any
// verb (real or not), any argument (climbing paths, long names, quotes,
// non-UTF-8 bytes). Whatever the order, every command gets exactly one
// final reply with a valid code, the server never stops answering
// (unless told to QUIT or a 421 says why), nothing is created outside
// the user's root, and, once the sessions end, no port or goroutine is
// left behind (goleak in TestMain).
func TestRandomSessions(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) {
		c.DataConnectTimeout = 30 * time.Millisecond
		c.MaxLoginAttempts = 1000
		c.Ban = server.BanPolicy{After: -1}
		c.FailedLoginDelay = -1
		c.AtomicUploads = true
		c.Logger = nil
	})
	verbs := append([]string{"FOO", "XMD5", "NOTAVERB"}, server.Verbs()...)
	args := rapid.OneOf(
		rapid.Just(""),
		rapid.SampledFrom([]string{"/", "..", "../..", "/../../etc", "a", "a/b", "dir", "f", `"q"`, "-la", "A N", "I", "ALL", "1", "2",
			"127,0,0,1,200,10", "|1|127.0.0.1|5000|", "0", "100", "SIZE", "UTF8 ON", "MLST type;", "HASH MD5", "CHMOD 777 f",
			"20200101000000 f", "caf\xe9", strings.Repeat("x", 300)}),
		rapid.StringMatching(`[ -~]{0,40}`),
	)
	rapid.Check(t, func(rt *rapid.T) {
		conn, err := net.DialTimeout("tcp", ts.Addr, 5*time.Second)
		if err != nil {
			rt.Fatal(err)
		}
		defer conn.Close()
		r := textproto.NewReader(bufio.NewReader(conn))
		read := func(what string) int {
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				code, msg, err := r.ReadResponse(0)
				if code < 100 || code > 599 {
					rt.Fatalf("after %s: bad reply %d %q: %v", what, code, msg, err)
				}
				if code >= 200 { // 1yz is preliminary: the final reply follows
					return code
				}
			}
		}
		read("connect")
		if rapid.Bool().Draw(rt, "login") {
			_, _ = io.WriteString(conn, "USER "+ftptest.User+"\r\nPASS "+ftptest.Password+"\r\n")
			read("USER")
			read("PASS")
		}
		n := rapid.IntRange(1, 25).Draw(rt, "n")
		for i := 0; i < n; i++ {
			verb := rapid.SampledFrom(verbs).Draw(rt, "verb")
			arg := args.Draw(rt, "arg")
			if verb == "AUTH" || verb == "REIN" && i == n-1 {
				continue // a TLS handshake is not this test's business
			}
			line := strings.TrimSpace(verb + " " + arg)
			if _, err := io.WriteString(conn, line+"\r\n"); err != nil {
				rt.Fatalf("write %q: %v", line, err)
			}
			code := read(line)
			if verb == "QUIT" || code == ftp.CodeServiceUnavailable {
				return
			}
		}
		_, _ = io.WriteString(conn, "NOOP\r\n")
		if code := read("final NOOP"); code != ftp.CodeOK {
			rt.Fatalf("final NOOP: %d", code)
		}
	})
	// Nothing escaped the root, which is alone in its parent.
	base := filepath.Dir(ts.Root)
	entries, err := os.ReadDir(base)
	if err != nil || len(entries) != 1 || filepath.Join(base, entries[0].Name()) != ts.Root {
		t.Fatalf("outside the root: %v %v", entries, err)
	}
	// Every session's passive port is released once it ends.
	testenv.WaitForState(t, 10*time.Second, "every passive port to be released", func() string {
		if n := server.PortsHeld(ts.Server); n != 0 {
			return fmt.Sprintf("%d passive ports still held", n)
		}
		return ""
	})
}
