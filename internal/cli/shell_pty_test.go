//go:build unix

package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/ferry-ftp/ferry/server"
)

// The shell on a terminal is tested in a child process (this test binary
// again), since liner drives os.Stdin and os.Stdout, which become a
// pseudo-terminal there.

const shellHelperEnv = "FERRY_SHELL_HELPER_ARGS"

// TestShellHelperProcess is the child: it runs ferry with the arguments
// from the environment and exits with its code. Run on its own it does
// nothing.
func TestShellHelperProcess(t *testing.T) {
	args := os.Getenv(shellHelperEnv)
	if args == "" {
		t.Skip("the child process of TestShellTerminal")
	}
	os.Exit(Run(context.Background(), strings.Split(args, "\n")))
}

// screen collects what the child writes to the terminal.
type screen struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	more chan struct{} // signalled after each read
	mark int           // expect looks from here on
}

// expect waits until the screen shows s after the mark, then moves the
// mark past it.
func (sc *screen) expect(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		sc.mu.Lock()
		i := strings.Index(sc.buf.String()[sc.mark:], s)
		if i >= 0 {
			sc.mark += i + len(s)
		}
		all := sc.buf.String()
		sc.mu.Unlock()
		if i >= 0 {
			return
		}
		select {
		case <-sc.more:
		case <-deadline:
			t.Fatalf("the terminal never showed %q; it shows:\n%q", s, all)
		}
	}
}

func TestShellTerminal(t *testing.T) {
	// Slow downloads leave time to interrupt one.
	srv := startFTP(t, false, func(c *server.Config) { c.DownloadRate = 256 << 10 })
	data := randomData(t, 200<<10)
	writeFile(t, filepath.Join(srv.root, "slow.bin"), string(randomData(t, 16<<20)))
	writeFile(t, filepath.Join(srv.root, "alpha-file.bin"), string(data))
	writeFile(t, filepath.Join(srv.root, "beta.txt"), "b\n")
	if err := os.Mkdir(filepath.Join(srv.root, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(srv.root, "docs", "guide.txt"), "read me\n")
	home, local := t.TempDir(), t.TempDir()
	history := filepath.Join(home, "history")

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestShellHelperProcess$")
	cmd.Dir = local
	cmd.Env = append(os.Environ(), "TERM=xterm", "HOME="+home,
		shellHelperEnv+"="+strings.Join([]string{"shell", "--timeout", "20s", "--history", history, srv.url("")}, "\n"))
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	sc := &screen{more: make(chan struct{}, 1)}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		b := make([]byte, 4096)
		for {
			n, err := tty.Read(b)
			sc.mu.Lock()
			sc.buf.Write(b[:n])
			sc.mu.Unlock()
			select {
			case sc.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	typeIn := func(s string) {
		t.Helper()
		if _, err := tty.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}

	sc.expect(t, "230 ") // verbose by default on a terminal: the login reply
	sc.expect(t, "ferry> ")
	typeIn("pw\t") // completes the command name
	sc.expect(t, "pwd ")
	typeIn("\r")
	sc.expect(t, "Remote directory: /")
	sc.expect(t, "ferry> ")

	typeIn("get al\t") // completes a remote name, listing the directory
	sc.expect(t, "get alpha-file.bin ")
	typeIn("\r")
	sc.expect(t, "226 ")
	sc.expect(t, "bytes received in")
	sc.expect(t, "ferry> ")

	// Ctrl-C aborts a transfer (ABOR) and the shell goes on.
	typeIn("get slow.bin\r")
	sc.expect(t, "150 Opening BINARY mode data connection for slow.bin")
	typeIn("\x03")
	sc.expect(t, "426 ")
	sc.expect(t, "ferry: get slow.bin: ")
	sc.expect(t, "ferry> ")

	typeIn("cd d\t") // a directory completes with "/"
	sc.expect(t, "cd docs/")
	typeIn("\r")
	sc.expect(t, "ferry> ")
	typeIn("get g\t")
	sc.expect(t, "get guide.txt ")
	typeIn("\r")
	sc.expect(t, "ferry> ")

	typeIn("passive\r")
	sc.expect(t, "Passive mode off.")
	sc.expect(t, "ferry> ")
	typeIn("debug\r")
	sc.expect(t, "Debugging on.")
	typeIn("ls\r")
	sc.expect(t, "---> EPRT |1|127.0.0.1|")
	sc.expect(t, "guide.txt")
	sc.expect(t, "ferry> ")
	typeIn("bogus\r")
	sc.expect(t, "Invalid command")
	sc.expect(t, "ferry> ")
	typeIn("quit\r")
	sc.expect(t, "221 ")

	err = cmd.Wait()
	<-readDone
	if err != nil {
		t.Errorf("exit: %v; an interactive session exits 0 after failed commands", err)
	}
	sameFile(t, filepath.Join(local, "alpha-file.bin"), data)
	sameFile(t, filepath.Join(local, "guide.txt"), []byte("read me\n"))
	h, err := os.ReadFile(history)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pwd\n", "get alpha-file.bin\n", "cd docs/\n", "quit\n"} {
		if !strings.Contains(string(h), want) {
			t.Errorf("history lacks %q:\n%s", want, h)
		}
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	t.Logf("screen:\n%s", sc.buf.String())
	if strings.Contains(sc.buf.String(), ftpPass) {
		t.Errorf("the terminal showed the password")
	}
}
