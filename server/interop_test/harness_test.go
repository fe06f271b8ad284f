// Package interop_test runs ferry's server against real FTP clients (curl,
// lftp, wget, tnftp, Python's ftplib, jlaffaye/ftp) and checks what
// arrives byte for byte. Each test starts its own server in-process on
// loopback; the clients run as child processes with a timeout.
package interop_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/server"
	"go.uber.org/goleak"
)

// clientTimeout bounds every external client run.
const clientTimeout = 60 * time.Second

// options select what the test server offers.
type options struct {
	tls    bool // AUTH TLS on the plain listener and an implicit-TLS listener
	atomic bool // AtomicUploads
	ipv6   bool // clients use a listener on ::1, not 127.0.0.1 (skips if the host has no IPv6 loopback)
	// downloadRate caps the server's downloads (bytes per second), for
	// tests that need a transfer still running; 0: no cap.
	downloadRate int64
	// tlsReuse is the TLS data-channel binding policy (default allow).
	tlsReuse server.TLSReuse
}

// ftpEnv is a running server, where its files live, and where the
// clients connect. Its accounts are ftptest's: ftptest.User with every
// permission, anonymous read-only, both rooted at root.
type ftpEnv struct {
	t       *testing.T
	ts      *ftptest.Server
	root    string // the password user's home and the anonymous root
	host    string // 127.0.0.1, or ::1 with options.ipv6
	port    int    // plain (explicit TLS when enabled) listener
	tlsPort int    // implicit TLS listener, 0 without TLS
	work    string // a scratch directory for client-side files
	srv     *server.Server
}

// url returns an ftp:// URL for p on the plain listener, with credentials.
func (e *ftpEnv) url(p string) string {
	return fmt.Sprintf("ftp://%s:%s@%s/%s", ftptest.User, ftptest.Password, e.addr(), strings.TrimPrefix(p, "/"))
}

// addr is host:port of the plain listener.
func (e *ftpEnv) addr() string { return net.JoinHostPort(e.host, strconv.Itoa(e.port)) }

// startServer starts a server for the test (ftptest.NewServer, with a
// passive range wide enough for clients that open several data
// connections at once); everything stops when the test ends.
func startServer(t *testing.T, o options) *ftpEnv {
	t.Helper()
	start := ftptest.NewServer
	if o.tls {
		start = ftptest.NewTLSServer
	}
	ts := start(t, func(c *server.Config) {
		c.PassivePorts = ftptest.FreePorts(t, 24)
		c.AtomicUploads = o.atomic
		c.DownloadRate = o.downloadRate
		c.TLSReuse = o.tlsReuse
	})
	e := &ftpEnv{t: t, ts: ts, root: ts.Root, work: t.TempDir(), srv: ts.Server}
	addr := ts.Addr
	if o.ipv6 {
		addr = ts.ServeIPv6(t)
	}
	e.host, e.port = splitAddr(t, addr)
	if o.tls {
		_, e.tlsPort = splitAddr(t, ts.ImplicitAddr)
	}
	return e
}

func splitAddr(t *testing.T, addr string) (host string, port int) {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return ap.Addr().String(), int(ap.Port())
}

// result is what a client run produced.
type result struct {
	out  string // stdout and stderr interleaved
	code int    // exit code; -1 if the process did not exit normally
}

// runClient runs prog in dir with stdin and the client timeout, and returns
// its output and exit code (-1 if it did not exit by itself) and whether
// it timed out. It neither logs nor fails, so any goroutine may call it.
func (e *ftpEnv) runClient(dir, stdin, prog string, args ...string) (res result, timedOut bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	if dir == "" {
		dir = e.work
	}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+e.work, "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	res = result{out: out.String(), code: -1}
	if cmd.ProcessState != nil {
		res.code = cmd.ProcessState.ExitCode()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = nil
	}
	return res, ctx.Err() != nil, err
}

// runQuiet is exec for goroutines other than the test's (t.Fatal must
// not be called there): a timeout or a failure to start shows as exit
// code -1 with the reason appended to the output.
func (e *ftpEnv) runQuiet(prog string, args ...string) result {
	res, timedOut, err := e.runClient("", "", prog, args...)
	switch {
	case timedOut:
		res.code, res.out = -1, res.out+"\n(timed out)"
	case err != nil:
		res.code, res.out = -1, res.out+"\n"+err.Error()
	}
	return res
}

// run runs a client with stdin and a timeout, in dir (the work directory
// when empty). It fails the test if the client cannot start or times out.
func (e *ftpEnv) run(dir, stdin, prog string, args ...string) result {
	e.t.Helper()
	res, timedOut, err := e.runClient(dir, stdin, prog, args...)
	if timedOut {
		e.t.Fatalf("%s %q timed out after %v; output:\n%s", prog, args, clientTimeout, res.out)
	}
	if err != nil {
		e.t.Fatalf("%s: %v", prog, err)
	}
	return res
}

// mustRun is run that fails the test unless the client exits 0.
func (e *ftpEnv) mustRun(dir, stdin, prog string, args ...string) string {
	e.t.Helper()
	res := e.run(dir, stdin, prog, args...)
	if res.code != 0 {
		e.t.Fatalf("%s %q exited %d; output:\n%s", filepath.Base(prog), args, res.code, res.out)
	}
	return res.out
}

// writeRandom writes n random bytes to path (creating parents) and
// returns them.
func writeRandom(t *testing.T, path string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	writeFile(t, path, b)
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sameFile fails the test unless the file at path holds exactly want.
func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes sha256 %s, want %d bytes sha256 %s",
			path, len(got), sum(got), len(want), sum(want))
	}
}

// treeSums maps every regular file under dir (slash-separated, relative)
// to its sha256, and every directory to "dir". Hidden atomic-upload
// temporaries would show up as extra entries.
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			m[rel] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		m[rel] = sum(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sameTree fails the test unless the two directory trees hold the same
// names with the same contents.
func sameTree(t *testing.T, got, want string) {
	t.Helper()
	g, w := treeSums(t, got), treeSums(t, want)
	var diffs []string
	for k, v := range w {
		if g[k] != v {
			diffs = append(diffs, fmt.Sprintf("%q: got %q want %q", k, g[k], v))
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%q: unexpected", k))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("tree %s differs from %s:\n%s", got, want, strings.Join(diffs, "\n"))
	}
	if len(w) == 0 {
		t.Fatalf("tree %s is empty", want)
	}
}

// makeTree builds the mirror test tree under dir: nested directories,
// ~50 files including empty ones, one 5 MiB file, names with spaces and
// UTF-8.
func makeTree(t *testing.T, dir string) {
	t.Helper()
	for i := 0; i < 40; i++ {
		sub := []string{"", "a", "a/b", "a/b/c", "with space", "ünïcødé 目录"}[i%6]
		writeRandom(t, filepath.Join(dir, sub, fmt.Sprintf("file %02d.bin", i)), i*997)
	}
	for _, name := range []string{"empty", "a/empty", "a/b/c/empty too", "ünïcødé 目录/空.txt"} {
		writeFile(t, filepath.Join(dir, name), nil)
	}
	writeFile(t, filepath.Join(dir, "a/lines.txt"), []byte("one\ntwo\nthree\n"))
	writeFile(t, filepath.Join(dir, "Straße ß.txt"), []byte("grüße\n"))
	// Names FTP servers get wrong: spaces at either end (the argument is
	// everything after the verb's one space), quotes (doubled in 257
	// replies), a percent sign and a hash.
	writeFile(t, filepath.Join(dir, " leading.txt"), []byte("lead"))
	writeFile(t, filepath.Join(dir, "trailing.txt "), []byte("trail"))
	writeFile(t, filepath.Join(dir, `dir "q"`, `it's "x".txt`), []byte("quotes"))
	writeFile(t, filepath.Join(dir, "100% #1.txt"), []byte("percent"))
	writeRandom(t, filepath.Join(dir, "big", "five-mib.bin"), 5<<20)
	writeRandom(t, filepath.Join(dir, "a/b/c/d/e/deep.bin"), 4096)
	if err := os.MkdirAll(filepath.Join(dir, "empty dir"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// mustContain fails unless s contains every one of subs.
func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Fatalf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}

// TestMain fails the run if goroutines outlive the tests: every server is
// closed in Cleanup, so a leftover session, transfer or listener
// goroutine is a leak in the server.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
