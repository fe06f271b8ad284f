package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/term"

	"github.com/ferry-ftp/ferry/client"
)

// ShellCmd is `ferry shell`: the classic interactive FTP client.
type ShellCmd struct {
	URL         string `arg:"" optional:"" placeholder:"URL" help:"ftp:// or ftps:// URL to open; its path becomes the remote working directory. Without it, use open."`
	ExitOnError bool   `short:"e" name:"exit-on-error" help:"Stop at the first command that fails (for scripts)."`
	History     string `placeholder:"FILE" default:"~/.ferry_history" help:"Where an interactive session keeps its command history (default ~/.ferry_history); \"\" keeps it in memory only."`
	ConnFlags   `embed:""`
}

// Help is shown by ferry shell --help.
func (c *ShellCmd) Help() string {
	return "Reads commands from the terminal (line editing, history, TAB completion of commands and remote names) " +
		"or, when stdin is not a terminal, line by line with no prompt, so that it can be scripted:\n\n" +
		"  ferry shell ftp://host/ <<EOF\n  get file\n  EOF\n\n" +
		"Type help in the shell for its commands. A failing command prints its error and the server's reply on stderr " +
		"and the shell goes on (unless -e); a script's exit code is then that of the first failure, while an interactive " +
		"session exits 0. The debug transcript (--debug, or the debug command) goes to stdout, between the command's own " +
		"output, as in the classic client.\n\n" + exitCodesHelp
}

// shell is one run of ferry shell. Its fields are owned by the goroutine
// running the command loop, except the atomics, which the debug hook
// reads, possibly from a goroutine calling Abort.
type shell struct {
	env         *Env
	flags       ConnFlags
	in          lineReader
	out         *lockedWriter // stdout: listings, replies, the transcript
	interactive bool          // stdin is a terminal: prompts, confirmations
	stopOnError bool

	sess     *session // nil while not connected
	dialer   *dialer  // for logging in again (user), with its base options
	baseOpts []client.Option
	cwd      string // remote working directory as PWD last said
	lcwd     string // local working directory (lcd changes it, not the process's)

	// Settings, as the classic client names them.
	passive, epsv bool
	auto          bool // --mode auto and passive not toggled since
	binary        bool
	progress      bool
	prompt        bool
	debug         atomic.Bool
	verbose       atomic.Bool
	muted         atomic.Bool // no transcript while completing a line

	tmu      sync.Mutex         // guards lastSent and cancel, used by the hook and the signal goroutine
	lastSent string             // verb of the last command sent, for the transcript
	cancel   context.CancelFunc // stops the running command (Ctrl-C); nil between commands

	cache    dirCache
	failures int
	firstErr int // exit code of the first failure
}

// Run runs the shell until quit or the end of its input.
func (c *ShellCmd) Run(ctx context.Context, env *Env) error {
	sh, err := newShell(c, env)
	if err != nil {
		return err
	}
	if sh.interactive {
		// Ctrl-C stops the running command, not the shell.
		var stop func()
		ctx, stop = sh.trapSignals(ctx)
		defer stop()
		if env.Stdin == os.Stdin && isTerminal(env.Stdout) {
			sh.in = newLinerReader(ctx, sh, expandHome(c.History))
		}
	}
	defer sh.in.close()
	defer sh.disconnect(ctx)

	if c.URL != "" {
		if err := sh.cancellable(ctx, func(ctx context.Context) error { return sh.open(ctx, c.URL) }); err != nil {
			sh.report(err)
			if sh.stopOnError {
				return sh.result()
			}
		}
	}
	sh.loop(ctx)
	return sh.result()
}

// newShell sets the shell up as the classic client does: verbose,
// prompting and progress bars on a terminal only; passive and EPSV on
// unless --mode says otherwise. Commands come from a plain line reader
// until Run chooses liner.
func newShell(c *ShellCmd, env *Env) (*shell, error) {
	interactive := isTerminal(env.Stdin)
	sh := &shell{
		env:         env,
		flags:       c.ConnFlags,
		out:         &lockedWriter{w: env.Stdout},
		interactive: interactive,
		stopOnError: c.ExitOnError,
		passive:     c.Mode != "active",
		auto:        c.Mode == "auto",
		epsv:        true,
		binary:      true,
		progress:    interactive && isTerminal(env.Stderr),
		prompt:      interactive,
	}
	sh.debug.Store(c.Debug)
	sh.verbose.Store(interactive)
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	sh.lcwd = wd
	r := &scanReader{r: bufio.NewReaderSize(env.Stdin, 64<<10), echo: interactive, w: env.Stdout}
	if interactive {
		r.tty = env.Stdin.(*os.File)
	}
	sh.in = r
	return sh, nil
}

// loop reads and runs commands until quit, the end of input, or (with
// -e) a failure.
func (sh *shell) loop(ctx context.Context) {
	for ctx.Err() == nil {
		line, err := sh.in.line("ferry> ")
		if err != nil {
			if !errors.Is(err, io.EOF) {
				sh.report(err)
			}
			return
		}
		var quit bool
		err = sh.cancellable(ctx, func(ctx context.Context) (err error) {
			quit, err = sh.exec(ctx, line)
			return err
		})
		if err != nil {
			sh.report(err)
			if sh.stopOnError {
				return
			}
		}
		if quit {
			return
		}
	}
}

// cancellable runs f with a context that Ctrl-C cancels.
func (sh *shell) cancellable(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sh.tmu.Lock()
	sh.cancel = cancel
	sh.tmu.Unlock()
	defer func() {
		sh.tmu.Lock()
		sh.cancel = nil
		sh.tmu.Unlock()
	}()
	return f(ctx)
}

// exec runs one command line; quit is true for quit, bye and exit.
func (sh *shell) exec(ctx context.Context, line string) (quit bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return false, nil
	}
	if rest, ok := strings.CutPrefix(line, "!"); ok {
		return false, sh.local(ctx, rest)
	}
	name := strings.Fields(line)[0]
	rest := strings.TrimSpace(line[len(name):])
	cmd, ok := lookupCommand(name)
	if !ok {
		return false, usagef("?Invalid command %q; help lists them", name)
	}
	var args []string
	if cmd.raw {
		// The rest unsplit: an FTP command has its own syntax, in which
		// quotes and backslashes are plain characters.
		if rest != "" {
			args = []string{rest}
		}
	} else if args, err = splitWords(rest); err != nil {
		return false, usageError{err}
	}
	if len(args) < cmd.min || (cmd.max >= 0 && len(args) > cmd.max) {
		return false, usagef("usage: %s %s", cmd.name, cmd.usage)
	}
	if cmd.conn && sh.sess == nil {
		return false, errNotConnected
	}
	if cmd.changes {
		defer sh.cache.clear()
	}
	err = cmd.run(sh, ctx, args)
	if errors.Is(err, client.ErrConnection) && sh.sess != nil {
		// The server closed the connection (421, an idle timeout) or the
		// network broke: say so once rather than fail every command.
		sh.sess.Close()
		sh.sess = nil
		sh.cache.clear()
		err = fmt.Errorf("%w\nconnection lost; use open to connect again", err)
	}
	return cmd.quit, err
}

var errNotConnected = errors.New("not connected; use open URL")

// report prints a failed command's error, with the server's reply and a
// hint when there is one, and counts it for the exit code.
func (sh *shell) report(err error) {
	if h := hint(err, sh.mode()); h != "" {
		err = fmt.Errorf("%w\nhint: %s", err, h)
	}
	fmt.Fprintf(sh.env.Stderr, "ferry: %v\n", err)
	if sh.interactive {
		return // the user saw it; the exit code is for scripts
	}
	sh.failures++
	if sh.firstErr == 0 {
		sh.firstErr = clientExit(err)
		if sh.firstErr == exitOK {
			sh.firstErr = exitFailure
		}
	}
}

// result is Run's error: nil if every command succeeded, else the exit
// code of the first failure.
func (sh *shell) result() error {
	if sh.failures == 0 {
		return nil
	}
	s := "s"
	if sh.failures == 1 {
		s = ""
	}
	return exitError{code: sh.firstErr, err: fmt.Errorf("%d command%s failed", sh.failures, s)}
}

// say prints a message of the classic client to stdout.
func (sh *shell) say(format string, args ...any) {
	fmt.Fprintf(sh.out, format+"\n", args...)
}

// transcript is the client's debug hook: with debug, every command sent
// (PASS masked by the library) and every reply; with verbose only, the
// replies. It consults the flags on each line so that toggling works on
// a live connection.
func (sh *shell) transcript(dir client.Direction, line string) {
	sh.tmu.Lock()
	if dir == client.Sent {
		verb, _, _ := strings.Cut(strings.TrimPrefix(line, "---> "), " ")
		sh.lastSent = verb
	}
	feat := sh.lastSent == "FEAT"
	sh.tmu.Unlock()
	if sh.muted.Load() {
		return
	}
	switch {
	case sh.debug.Load():
		if dir == client.Note {
			line = "note: " + line
		}
	case !sh.verbose.Load() || dir != client.Received || feat:
		return // verbose shows replies, but not the feature list the client asks for itself
	}
	fmt.Fprintln(sh.out, line)
}

// trapSignals makes the shell's context: SIGINT (Ctrl-C while a
// command runs; liner reads it as a key at the prompt) cancels the
// running command, which aborts a transfer with ABOR; SIGTERM ends the
// shell. The parent context, which the same SIGINT cancels, no longer
// stops it.
func (sh *shell) trapSignals(parent context.Context) (context.Context, func()) {
	ctx, cancelAll := context.WithCancel(context.WithoutCancel(parent))
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case sig := <-sigs:
				if sig != os.Interrupt {
					cancelAll()
					return
				}
				sh.tmu.Lock()
				if sh.cancel != nil {
					sh.cancel()
				}
				sh.tmu.Unlock()
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancelAll()
	}
}

// resolveLocal makes a local path absolute against lcd's directory.
func (sh *shell) resolveLocal(p string) string {
	p = expandHome(p)
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(sh.lcwd, p)
}

// expandHome replaces a leading "~/" with the home directory.
func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// lockedWriter serializes writes: the debug hook may write from the
// goroutine that aborts a transfer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// lineReader is where commands come from.
type lineReader interface {
	// line returns the next line without its end, io.EOF at the end.
	line(prompt string) (string, error)
	// password reads a secret without echo, if it can.
	password(prompt string) (string, error)
	close()
}

// scanReader reads lines from a script or a pipe: no prompt, no
// editing. echo writes the prompt (for a terminal that liner cannot
// drive, e.g. when stdin is a terminal but stdout is not).
type scanReader struct {
	r    *bufio.Reader
	echo bool
	w    io.Writer
	tty  *os.File // stdin when it is a terminal, for passwords; else nil
}

// maxLine bounds a command line, as a server bounds its input.
const maxLine = 64 << 10

func (s *scanReader) line(prompt string) (string, error) {
	if s.echo {
		fmt.Fprint(s.w, prompt)
	}
	var b []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		if len(b)+len(chunk) > maxLine {
			return "", fmt.Errorf("a line longer than %d bytes", maxLine)
		}
		b = append(b, chunk...)
		switch {
		case err == nil:
			return strings.TrimRight(string(b), "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(b) > 0:
			return strings.TrimRight(string(b), "\r\n"), nil
		default:
			return "", err
		}
	}
}

func (s *scanReader) password(prompt string) (string, error) {
	if s.tty != nil {
		fmt.Fprint(s.w, prompt)
		b, err := term.ReadPassword(int(s.tty.Fd()))
		fmt.Fprintln(s.w)
		return string(b), err
	}
	// A script gives the password on the next line, as to the classic client.
	return s.line("")
}

func (s *scanReader) close() {}
