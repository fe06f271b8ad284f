package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/auth"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/storage"
)

// runCLI runs the command line in-process with stdin and returns the
// exit code and what went to stdout and stderr.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

// freePort returns a port the kernel just handed out and released: a
// passive range no test hard-codes.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestServeCheck(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "pub"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := freePort(t)
	good := filepath.Join(dir, "good.toml")
	writeFile(t, good, fmt.Sprintf("[[listen]]\naddress = \"0.0.0.0:0\"\n[passive]\nports = \"%d-%d\"\n"+
		"[anonymous]\nenabled = true\nroot = \"pub\"\n", p, p))
	bad := filepath.Join(dir, "bad.toml")
	writeFile(t, bad, "[passive]\nports = \"50100-50000\"\n[anonymous]\nenabled = true\nroot = \"pub\"\n")
	unknown := filepath.Join(dir, "unknown.toml")
	writeFile(t, unknown, "[passive]\nport = \"1-2\"\n")

	code, out, errOut := runCLI(t, "", "serve", "--check", "--config", good)
	if code != 0 || !strings.Contains(out, "configuration OK") {
		t.Errorf("good: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "", "serve", "--check", "--config", bad)
	if code != 2 || !strings.Contains(errOut, "passive.ports: min 50100 > max 50000") || strings.Contains(out, "OK") {
		t.Errorf("bad: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "", "serve", "--check", "--config", unknown)
	if code != 2 || !strings.Contains(errOut, "passive.port: unknown key") {
		t.Errorf("unknown key: exit %d, stderr %q", code, errOut)
	}
	// Flags override the file: a bad flag fails a good file.
	code, _, errOut = runCLI(t, "", "serve", "--check", "--config", good, "--passive-ports", "9-1")
	if code != 2 || !strings.Contains(errOut, "passive.ports") {
		t.Errorf("bad flag: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "", "serve", "--check", "--config", good, "--user", "nopassword")
	if code != 2 || !strings.Contains(errOut, "NAME:PASSWORD") {
		t.Errorf("bad --user: exit %d, stderr %q", code, errOut)
	}
	badUsers := filepath.Join(dir, "badusers.toml")
	writeFile(t, badUsers, "[[user]]\nname = \"a\"\npassword = \"plain\"\nhome = \"pub\"\n")
	code, _, errOut = runCLI(t, "", "serve", "--check", "--config", good, "--user", "x:y")
	if code != 0 {
		t.Errorf("quick user: exit %d, stderr %q", code, errOut)
	}
	withUsers := filepath.Join(dir, "withusers.toml")
	writeFile(t, withUsers, fmt.Sprintf("[users]\nfile = \"badusers.toml\"\n[passive]\nports = \"%d-%d\"\n", p, p))
	code, _, errOut = runCLI(t, "", "serve", "--check", "--config", withUsers)
	if code != 2 || !strings.Contains(errOut, "unsupported password hash") {
		t.Errorf("bad users file: exit %d, stderr %q", code, errOut)
	}
	code, _, _ = runCLI(t, "", "serve", "--check", "--bogus")
	if code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
	code, out, _ = runCLI(t, "", "--help")
	if code != 0 || !strings.Contains(out, "serve") {
		t.Errorf("--help: exit %d, stdout %q", code, out)
	}
	// Without a file: DIR served anonymously; warnings printed.
	code, out, errOut = runCLI(t, "", "serve", "--check", dir, "--listen", "0.0.0.0:0", "--user", "bob:pw",
		"--passive-ports", fmt.Sprintf("%d-%d", p, p))
	if code != 0 || !strings.Contains(out, "warning: listening on 0.0.0.0:0 without [tls]") {
		t.Errorf("no file: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if strings.Contains(out+errOut, "pw") {
		t.Errorf("a password was printed: %q %q", out, errOut)
	}
}

func TestServeFlagsOverrideFile(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "ferry.toml")
	writeFile(t, cfgFile, "[[listen]]\naddress = \"127.0.0.1:21\"\n[passive]\nports = \"1000-2000\"\naddress = \"192.0.2.1\"\n"+
		"[limits]\nmax_per_ip = 5\n[timeouts]\nidle = \"1m\"\n[log]\nformat = \"text\"\nlevel = \"info\"\n")
	perIP, idle := -1, 3*time.Minute
	s := &ServeCmd{Dir: dir, Config: cfgFile, Listen: []string{"127.0.0.1:0", "[::1]:0"}, User: []string{"bob:a:b"},
		PassivePorts: "3000-3001", PassiveAddress: "192.0.2.9", MaxPerIP: &perIP, IdleTimeout: &idle,
		LogFormat: "json", LogLevel: "debug"}
	cfg, err := s.config()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listen) != 2 || cfg.Listen[1].Address != "[::1]:0" || cfg.Passive.Ports != "3000-3001" ||
		cfg.Passive.Address != "192.0.2.9" || cfg.Limits.MaxPerIP != -1 || time.Duration(cfg.Timeouts.Idle) != idle ||
		cfg.Log.Format != "json" || cfg.Log.Level != "debug" {
		t.Errorf("overrides not applied: %+v", cfg)
	}
	// The password is everything after the first colon.
	if q := cfg.Users.Quick; len(q) != 1 || q[0].Name != "bob" || q[0].Password != "a:b" || q[0].Home != dir {
		t.Errorf("quick users %+v", q)
	}
	// Without flags the file stands.
	cfg, err = (&ServeCmd{Dir: dir, Config: cfgFile}).config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Passive.Ports != "1000-2000" || cfg.Limits.MaxPerIP != 5 || cfg.Anonymous.Enabled {
		t.Errorf("file not kept: %+v", cfg)
	}
	if _, err := (&ServeCmd{Dir: filepath.Join(dir, "missing")}).config(); err == nil {
		t.Error("a missing DIR was accepted")
	}
}

func TestUserCommands(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users.toml")
	code, out, errOut := runCLI(t, "s3cret\n", "user", "--file", file, "add", "alice", "--perm", "list,download")
	if code != 0 || !strings.Contains(out, "added alice") {
		t.Fatalf("add: exit %d, %q %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "x\n", "user", "--file", file, "add", "alice")
	if code != 2 || !strings.Contains(errOut, "already exists") {
		t.Errorf("add twice: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "x\n", "user", "add", "--file", file, "bob", "--perm", "fly")
	if code != 2 || !strings.Contains(errOut, "fly") {
		t.Errorf("bad perm: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "\n", "user", "add", "--file", file, "bob")
	if code != 2 || !strings.Contains(errOut, "empty password") {
		t.Errorf("empty password: exit %d, %q", code, errOut)
	}
	code, _, _ = runCLI(t, "hunter2", "user", "add", "--file", file, "bob") // no newline at the end
	if code != 0 {
		t.Fatalf("add bob: exit %d", code)
	}

	code, out, _ = runCLI(t, "", "user", "list", "--file", file)
	if code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "list,download") ||
		!strings.Contains(out, "bob") || strings.Contains(out, "$argon2id$") {
		t.Errorf("list: exit %d, %q", code, out)
	}

	// The stored hashes verify the passwords given on stdin.
	verify := func(name, pass string) bool {
		accts, err := (auth.File{Path: file}).List()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range accts {
			if a.Name == name {
				ok, err := auth.NewHasher(1).Verify(t.Context(), a.Password, pass)
				return ok && err == nil
			}
		}
		return false
	}
	if !verify("alice", "s3cret") || !verify("bob", "hunter2") || verify("alice", "hunter2") {
		t.Error("stored hashes do not match the passwords read")
	}

	code, _, _ = runCLI(t, "n3w\r\n", "user", "passwd", "--file", file, "alice")
	if code != 0 || !verify("alice", "n3w") {
		t.Errorf("passwd: exit %d", code)
	}
	code, _, errOut = runCLI(t, "x\n", "user", "passwd", "--file", file, "zed")
	if code != 2 || !strings.Contains(errOut, "no user") {
		t.Errorf("passwd of nobody: exit %d, %q", code, errOut)
	}
	code, _, _ = runCLI(t, "", "user", "del", "--file", file, "alice")
	if code != 0 {
		t.Errorf("del: exit %d", code)
	}
	code, out, _ = runCLI(t, "", "user", "list", "--file", file)
	if code != 0 || strings.Contains(out, "alice") || !strings.Contains(out, "bob") {
		t.Errorf("list after del: %q", out)
	}
}

// ftpLogin reads the banner of the server at addr and logs in,
// returning the reply code to PASS.
func ftpLogin(t *testing.T, addr, user, pass string) int {
	t.Helper()
	c := ftptest.Dial(t, addr)
	defer c.Close()
	c.Send("USER " + user)
	c.Expect(331)
	code, _ := c.Cmd("PASS " + pass)
	return code
}

// serving is a serve command running in-process.
type serving struct {
	addrs    []net.Addr
	reloaded chan error // the outcome of each SIGHUP
	out, err bytes.Buffer
	stop     func() int // cancels and waits; returns the exit code
}

// startServe runs serve in-process and returns once it listens; it is
// stopped when the test ends if not before.
func startServe(t *testing.T, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	s := &serving{reloaded: make(chan error, 1)}
	listening := make(chan []net.Addr, 1)
	done := make(chan int, 1)
	env := &Env{Stdin: strings.NewReader(""), Stdout: &s.out, Stderr: &s.err,
		listening: func(a []net.Addr) { listening <- a },
		reloaded:  func(err error) { s.reloaded <- err }}
	go func() { done <- run(ctx, args, env) }()
	code := -1
	s.stop = func() int {
		cancel()
		if code >= 0 {
			return code
		}
		select {
		case code = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
		}
		return code
	}
	t.Cleanup(func() {
		if c := s.stop(); c != 0 {
			t.Errorf("serve exited %d: %s", c, s.err.String())
		}
	})
	select {
	case s.addrs = <-listening:
	case code = <-done:
		t.Fatalf("serve exited %d: %s", code, s.err.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start listening")
	}
	return s
}

func TestServeImplicitAndExplicitTLS(t *testing.T) {
	dir := t.TempDir()
	cert := testenv.SelfSigned(t)
	cert.WriteFiles(t, dir)
	p := freePort(t)
	cfgFile := filepath.Join(dir, "ferry.toml")
	writeFile(t, cfgFile, fmt.Sprintf("[[listen]]\naddress = \"127.0.0.1:0\"\n"+
		"[[listen]]\naddress = \"127.0.0.1:0\"\nimplicit_tls = true\n"+
		"[tls]\ncert_file = \"cert.pem\"\nkey_file = \"key.pem\"\n"+
		"[passive]\nports = \"%d-%d\"\n[anonymous]\nenabled = true\nroot = \".\"\n", p, p))
	addrs := startServe(t, "serve", "--config", cfgFile).addrs
	if len(addrs) != 2 {
		t.Fatalf("listening on %v, want two addresses", addrs)
	}
	conf := cert.ClientConfig("127.0.0.1")

	// Explicit: a plain banner, then AUTH TLS.
	ftptest.Dial(t, addrs[0].String()).AuthTLS(conf)

	// Implicit: TLS from the first byte, then the banner.
	ftptest.DialTLS(t, addrs[1].String(), conf)
}

func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.toml")
	writeFile(t, users, "")
	stale := filepath.Join(dir, storage.UploadTempPrefix+"123")
	writeFile(t, stale, "half")
	p := freePort(t)
	cfgFile := filepath.Join(dir, "ferry.toml")
	writeFile(t, cfgFile, fmt.Sprintf("[users]\nfile = \"users.toml\"\n[limits]\nfailed_login_delay = \"1ms\"\n"+
		"[timeouts]\nshutdown_grace = \"5s\"\n[passive]\nports = \"%d-%d\"\n", p, p))

	srv := startServe(t, "serve", dir, "--config", cfgFile, "--listen", "127.0.0.1:0", "--user", "bob:Qu1ck-pw")
	addr := srv.addrs[0].String()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale upload temporary not removed: %v", err)
	}

	if code := ftpLogin(t, addr, "bob", "Qu1ck-pw"); code != 230 {
		t.Errorf("bob: PASS answered %d", code)
	}
	if code := ftpLogin(t, addr, "alice", "apw"); code != 530 {
		t.Errorf("alice before she exists: PASS answered %d", code)
	}
	// SIGHUP reloads the users file.
	if err := (auth.File{Path: users, Params: auth.Params{Memory: 64, Time: 1, Threads: 1}}).Add(auth.Account{Name: "alice", Home: "."}, "apw"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-srv.reloaded:
		if err != nil {
			t.Fatalf("reload: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no reload after SIGHUP")
	}
	if code := ftpLogin(t, addr, "alice", "apw"); code != 230 {
		t.Errorf("alice after SIGHUP: PASS answered %d", code)
	}

	if code := srv.stop(); code != 0 {
		t.Errorf("serve exited %d after cancel: %s", code, srv.err.String())
	}
	if !strings.Contains(srv.out.String(), "curl --user bob ftp://"+addr+"/") {
		t.Errorf("no connect hint for bob in %q", srv.out.String())
	}
	if !strings.Contains(srv.err.String(), "msg=stopped") {
		t.Errorf("no graceful stop logged: %s", srv.err.String())
	}
	if !strings.Contains(srv.err.String(), "grace=5s") {
		t.Errorf("timeouts.shutdown_grace did not reach the shutdown: %s", srv.err.String())
	}
	if strings.Contains(srv.out.String()+srv.err.String(), "Qu1ck-pw") {
		t.Errorf("the password was printed")
	}
}
