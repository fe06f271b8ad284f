package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/auth"
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
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	c := textproto.NewConn(nc)
	defer c.Close()
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatalf("banner: %v", err)
	}
	if err := c.PrintfLine("USER %s", user); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadResponse(331); err != nil {
		t.Fatalf("USER: %v", err)
	}
	if err := c.PrintfLine("PASS %s", pass); err != nil {
		t.Fatal(err)
	}
	code, _, _ := c.ReadResponse(230)
	return code
}

func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.toml")
	writeFile(t, users, "")
	stale := filepath.Join(dir, ".ferry-upload-123")
	writeFile(t, stale, "half")
	p := freePort(t)
	cfgFile := filepath.Join(dir, "ferry.toml")
	writeFile(t, cfgFile, fmt.Sprintf("[users]\nfile = \"users.toml\"\n[limits]\nfailed_login_delay = \"1ms\"\n"+
		"[timeouts]\nshutdown_grace = \"5s\"\n[passive]\nports = \"%d-%d\"\n", p, p))

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	listening := make(chan []net.Addr, 1)
	reloaded := make(chan error, 1)
	var out, errb bytes.Buffer
	env := &Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		listening: func(a []net.Addr) { listening <- a },
		reloaded:  func(err error) { reloaded <- err },
	}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", dir, "--config", cfgFile, "--listen", "127.0.0.1:0", "--user", "bob:Qu1ck-pw"}, env)
	}()
	var addr string
	select {
	case a := <-listening:
		addr = a[0].String()
	case code := <-done:
		t.Fatalf("serve exited %d: %s", code, errb.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start listening")
	}
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
	case err := <-reloaded:
		if err != nil {
			t.Fatalf("reload: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no reload after SIGHUP")
	}
	if code := ftpLogin(t, addr, "alice", "apw"); code != 230 {
		t.Errorf("alice after SIGHUP: PASS answered %d", code)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d after cancel: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(out.String(), "curl --user bob ftp://"+addr+"/") {
		t.Errorf("no connect hint for bob in %q", out.String())
	}
	if strings.Contains(out.String()+errb.String(), "Qu1ck-pw") {
		t.Errorf("the password was printed")
	}
}
