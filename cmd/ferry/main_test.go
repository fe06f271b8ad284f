package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/peertest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/storage"
)

// These tests run the real binary: what they check (a process that
// gives up root, a server killed with SIGKILL) cannot happen in-process.

var ferryBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ferry-bin-")
	if err != nil {
		panic(err)
	}
	ferryBin = filepath.Join(dir, "ferry")
	out, err := exec.Command("go", "build", "-o", ferryBin, ".").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		panic("building ferry: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serveProc is a running `ferry serve`.
type serveProc struct {
	cmd  *exec.Cmd
	addr string
	log  *strings.Builder
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServe runs ferry serve with args and waits for its "listening" log line.
func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(ferryBin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, log: &strings.Builder{}}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("ferry serve log:\n%s", p.log.String())
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.log.WriteString(line + "\n")
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case p.addr = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("ferry serve did not start:\n%s", p.log.String())
	}
	return p
}

func passiveFlag(t *testing.T) string {
	lo, hi := peertest.FreePortRange(t, 8)
	return strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
}

// Started as root with --run-as, the server gives up root once it has
// bound its listener, and still serves.
func TestRunAsDropsRoot(t *testing.T) {
	testenv.Root(t)
	// t.TempDir's parent is private to root; nobody must reach this one.
	dir, err := os.MkdirTemp("", "ferry-runas-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, "--run-as", "nobody", "--passive-ports", passiveFlag(t), dir)
	status, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	uidLine := regexp.MustCompile(`(?m)^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)`).FindStringSubmatch(string(status))
	if uidLine == nil || uidLine[1] != "65534" || uidLine[2] != "65534" || uidLine[3] != "65534" {
		t.Fatalf("server still privileged: %q", uidLine)
	}
	c := ftptest.Dial(t, p.addr)
	c.Login("anonymous", "x@y")
	dc := c.EPSV()
	c.Send("RETR hello")
	c.Expect(ftp.CodeFileStatusOK)
	b, _ := io.ReadAll(dc)
	if string(b) != "hi" {
		t.Fatalf("got %q", b)
	}
	c.Expect(ftp.CodeTransferComplete)
}

// A server killed with SIGKILL in the middle of an atomic upload leaves
// no visible partial file, and its next start removes the temporary.
func TestKilledMidUploadLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--user", "alice:secret", "--passive-ports", passiveFlag(t), dir}
	p := startServe(t, args...)
	c := ftptest.Dial(t, p.addr)
	c.Login("alice", "secret")
	dc := c.EPSV()
	c.Send("STOR upload.bin")
	c.Expect(ftp.CodeFileStatusOK)
	chunk := make([]byte, 1<<20)
	for i := 0; i < 4; i++ {
		if _, err := dc.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the server has written some of it to the temporary.
	testenv.WaitFor(t, 20*time.Second, "the upload's temporary to appear", func() bool {
		temps, _ := filepath.Glob(filepath.Join(dir, ".ferry-upload-*"))
		return len(temps) > 0
	})
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, "upload.bin")); !os.IsNotExist(err) {
		t.Fatalf("partial upload visible after SIGKILL: %v", err)
	}
	startServe(t, args...)
	if left, _ := filepath.Glob(filepath.Join(dir, storage.UploadTempPrefix+"*")); len(left) != 0 {
		t.Fatalf("stale temporaries after restart: %v", left)
	}
}

// The shipped systemd unit passes systemd's own checks.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := testenv.Tool(t, "systemd-analyze")
	unit, err := os.ReadFile("../../contrib/ferry.service")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := strings.ReplaceAll(string(unit), "/usr/local/bin/ferry", ferryBin)
	path := filepath.Join(dir, "ferry.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, want := range []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "AmbientCapabilities=CAP_NET_BIND_SERVICE"} {
		if !strings.Contains(text, want) {
			t.Errorf("unit lacks %s", want)
		}
	}
}
