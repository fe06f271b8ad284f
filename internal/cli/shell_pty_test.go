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
	// The dialogue: what is typed, then what the screen must show, in
	// order, before the next typing.
	for _, step := range []struct {
		keys string
		want []string
	}{
		{"", []string{"230 ", "ferry> "}}, // verbose by default on a terminal: the login reply
		{"pw\t", []string{"pwd "}},        // completes the command name
		{"\r", []string{"Remote directory: /", "ferry> "}},
		{"get al\t", []string{"get alpha-file.bin "}}, // completes a remote name, listing the directory
		{"\r", []string{"226 ", "bytes received in", "ferry> "}},
		// Ctrl-C aborts a transfer (ABOR) and the shell goes on.
		{"get slow.bin\r", []string{"150 Opening BINARY mode data connection for slow.bin"}},
		{"\x03", []string{"426 ", "ferry: get slow.bin: ", "ferry> "}},
		{"cd d\t", []string{"cd docs/"}}, // a directory completes with "/"
		{"\r", []string{"ferry> "}},
		{"get g\t", []string{"get guide.txt "}}, // from the listing of the new directory
		{"\r", []string{"ferry> "}},
		{"passive\r", []string{"Passive mode off.", "ferry> "}},
		{"debug\r", []string{"Debugging on.", "ferry> "}},
		{"ls\r", []string{"---> EPRT |1|127.0.0.1|", "guide.txt", "ferry> "}},
		{"bogus\r", []string{"Invalid command", "ferry> "}},
		{"quit\r", []string{"221 "}},
	} {
		if _, err := tty.Write([]byte(step.keys)); err != nil {
			t.Fatal(err)
		}
		for _, w := range step.want {
			sc.expect(t, w)
		}
	}

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
