package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kballard/go-shellquote"

	"github.com/ferry-ftp/ferry/client"
	"github.com/ferry-ftp/ferry/ftp"
)

// shellCommand is one entry of the shell's command table.
type shellCommand struct {
	name    string
	aliases []string
	usage   string // the arguments, for help and usage errors
	help    string
	min     int  // fewest arguments
	max     int  // most arguments; -1: any
	raw     bool // gets the rest of the line as one argument, unsplit (quote)
	conn    bool // needs a connection
	changes bool // may change remote directories: forgets the completion cache
	quit    bool
	args    argKind // what TAB completes after the command name
	run     func(sh *shell, ctx context.Context, args []string) error
}

// argKind says what a command's arguments name, for completion.
type argKind int

const (
	argNone argKind = iota
	argRemote
	argLocal
	argCommand
)

// shellCommands returns the command table, in the order help lists it.
// It is built on each call: a package-level table would refer to help,
// which lists the table.
func shellCommands() []shellCommand {
	return []shellCommand{
		{name: "open", usage: "URL | HOST [PORT]", help: "connect and log in (credentials from the URL, --user, ~/.netrc or a prompt)", min: 1, max: 2,
			run: func(sh *shell, ctx context.Context, a []string) error { return sh.open(ctx, a[0], a[1:]...) }},
		{name: "user", usage: "NAME [PASSWORD]", help: "log in again as another user (on a new connection)", min: 1, max: 2, changes: true,
			run: func(sh *shell, ctx context.Context, a []string) error { return sh.user(ctx, a[0], a[1:]) }},
		{name: "close", aliases: []string{"disconnect"}, help: "end the session and stay in the shell", conn: true,
			run: func(sh *shell, ctx context.Context, _ []string) error { sh.disconnect(ctx); return nil }},
		{name: "ls", usage: "[-l] [DIR]", help: "list names in a remote directory (NLST); -l: as dir", max: 2, conn: true, args: argRemote,
			run: func(sh *shell, ctx context.Context, a []string) error {
				if len(a) > 0 && strings.HasPrefix(a[0], "-") {
					if strings.Contains(a[0], "l") {
						return sh.dir(ctx, a[1:])
					}
					a = a[1:]
				}
				if len(a) > 1 {
					return usagef("usage: ls [-l] [DIR]")
				}
				return sh.ls(ctx, a)
			}},
		{name: "dir", usage: "[DIR]", help: "list a remote directory in long form (MLSD or LIST)", max: 1, conn: true, args: argRemote,
			run: func(sh *shell, ctx context.Context, a []string) error { return sh.dir(ctx, a) }},
		{name: "cd", usage: "DIR", help: "change the remote directory", min: 1, max: 1, conn: true, args: argRemote,
			run: func(sh *shell, ctx context.Context, a []string) error { return sh.cd(ctx, a[0]) }},
		{name: "cdup", help: "change to the parent remote directory", conn: true, run: (*shell).cdup},
		{name: "lcd", usage: "[DIR]", help: "change the local directory (default: home)", max: 1, args: argLocal, run: (*shell).lcd},
		{name: "pwd", help: "print the remote directory", conn: true, run: (*shell).pwd},
		{name: "get", aliases: []string{"recv"}, usage: "REMOTE [LOCAL]", help: "download a file", min: 1, max: 2, conn: true, args: argRemote,
			run: func(sh *shell, ctx context.Context, a []string) error { return sh.get(ctx, a[0], at(a, 1), false) }},
		{name: "reget", usage: "REMOTE [LOCAL]", help: "download a file, resuming a partial local copy (REST)", min: 1, max: 2, conn: true, args: argRemote,
			run: func(sh *shell, ctx context.Context, a []string) error { return sh.get(ctx, a[0], at(a, 1), true) }},
		{name: "put", aliases: []string{"send"}, usage: "LOCAL [REMOTE]", help: "upload a file", min: 1, max: 2, conn: true, changes: true, args: argLocal,
			run: func(sh *shell, ctx context.Context, a []string) error { return sh.put(ctx, a[0], at(a, 1)) }},
		{name: "append", usage: "LOCAL [REMOTE]", help: "append a local file to a remote one (APPE)", min: 1, max: 2, conn: true, changes: true, args: argLocal,
			run: func(sh *shell, ctx context.Context, a []string) error { return sh.appendFile(ctx, a[0], at(a, 1)) }},
		{name: "mget", usage: "PATTERN...", help: "download the remote files matching each glob", min: 1, max: -1, conn: true, args: argRemote, run: (*shell).mget},
		{name: "mput", usage: "PATTERN...", help: "upload the local files matching each glob", min: 1, max: -1, conn: true, changes: true, args: argLocal, run: (*shell).mput},
		{name: "delete", aliases: []string{"rm"}, usage: "REMOTE", help: "remove a remote file", min: 1, max: 1, conn: true, changes: true, args: argRemote,
			run: func(sh *shell, ctx context.Context, a []string) error {
				return wrap("delete", a[0], sh.sess.Delete(ctx, a[0]))
			}},
		{name: "mdelete", usage: "PATTERN...", help: "remove the remote files matching each glob", min: 1, max: -1, conn: true, changes: true, args: argRemote, run: (*shell).mdelete},
		{name: "mkdir", usage: "DIR", help: "create a remote directory", min: 1, max: 1, conn: true, changes: true, args: argRemote,
			run: func(sh *shell, ctx context.Context, a []string) error {
				_, err := sh.sess.Mkdir(ctx, a[0])
				return wrap("mkdir", a[0], err)
			}},
		{name: "rmdir", usage: "DIR", help: "remove an empty remote directory", min: 1, max: 1, conn: true, changes: true, args: argRemote,
			run: func(sh *shell, ctx context.Context, a []string) error {
				return wrap("rmdir", a[0], sh.sess.Rmdir(ctx, a[0]))
			}},
		{name: "rename", usage: "FROM TO", help: "rename a remote file or directory", min: 2, max: 2, conn: true, changes: true, args: argRemote,
			run: func(sh *shell, ctx context.Context, a []string) error {
				return wrap("rename", a[0], sh.sess.Rename(ctx, a[0], a[1]))
			}},
		{name: "size", usage: "REMOTE", help: "print a remote file's size (SIZE)", min: 1, max: 1, conn: true, args: argRemote, run: (*shell).size},
		{name: "modtime", usage: "REMOTE", help: "print a remote file's modification time (MDTM)", min: 1, max: 1, conn: true, args: argRemote, run: (*shell).modtime},
		{name: "binary", aliases: []string{"image"}, help: "binary transfers (TYPE I)",
			run: func(sh *shell, ctx context.Context, _ []string) error { return sh.setType(ctx, true) }},
		{name: "ascii", help: "text transfers (TYPE A), converting line ends",
			run: func(sh *shell, ctx context.Context, _ []string) error { return sh.setType(ctx, false) }},
		{name: "type", usage: "[binary|ascii]", help: "print or set the transfer type", max: 1, run: (*shell).typeCmd},
		{name: "passive", usage: "[on|off]", help: "toggle passive data connections (off: active)", max: 1,
			run: func(sh *shell, _ context.Context, a []string) error {
				if err := toggle(&sh.passive, a); err != nil {
					return err
				}
				sh.auto = false
				sh.say("Passive mode %s.", onOff(sh.passive))
				return nil
			}},
		{name: "epsv", usage: "[on|off]", help: "toggle EPSV/EPRT (off: PASV/PORT only)", max: 1,
			run: func(sh *shell, _ context.Context, a []string) error {
				if err := toggle(&sh.epsv, a); err != nil {
					return err
				}
				sh.auto = false
				sh.say("EPSV/EPRT %s.", onOff(sh.epsv))
				return nil
			}},
		{name: "debug", usage: "[on|off]", help: "toggle the transcript of commands (---> ...) and replies", max: 1,
			run: func(sh *shell, _ context.Context, a []string) error {
				return sh.toggleAtomic(&sh.debug, a, "Debugging")
			}},
		{name: "verbose", usage: "[on|off]", help: "toggle printing the server's replies and transfer summaries", max: 1,
			run: func(sh *shell, _ context.Context, a []string) error {
				return sh.toggleAtomic(&sh.verbose, a, "Verbose mode")
			}},
		{name: "progress", usage: "[on|off]", help: "toggle progress bars", max: 1,
			run: func(sh *shell, _ context.Context, a []string) error {
				err := toggle(&sh.progress, a)
				if err == nil {
					sh.say("Progress bar %s.", onOff(sh.progress))
				}
				return err
			}},
		{name: "prompt", usage: "[on|off]", help: "toggle asking before each file of mget, mput and mdelete", max: 1,
			run: func(sh *shell, _ context.Context, a []string) error {
				err := toggle(&sh.prompt, a)
				if err == nil {
					sh.say("Interactive mode %s.", onOff(sh.prompt))
				}
				return err
			}},
		{name: "status", help: "show the connection and the settings", run: (*shell).status},
		{name: "quote", aliases: []string{"literal"}, usage: "COMMAND [ARGS]", help: "send a raw command and print the reply", min: 1, max: 1, raw: true, conn: true, changes: true, run: (*shell).quote},
		{name: "help", aliases: []string{"?"}, usage: "[COMMAND]", help: "list the commands, or explain one", max: 1, args: argCommand, run: (*shell).help},
		{name: "quit", aliases: []string{"bye", "exit"}, help: "end the session and the shell", quit: true,
			run: func(sh *shell, ctx context.Context, _ []string) error { sh.disconnect(ctx); return nil }},
	}
}

// lookupCommand finds a command by name or alias.
func lookupCommand(name string) (shellCommand, bool) {
	name = strings.ToLower(name)
	for _, c := range shellCommands() {
		if c.name == name || slices.Contains(c.aliases, name) {
			return c, true
		}
	}
	return shellCommand{}, false
}

// at returns a[i], or "".
func at(a []string, i int) string {
	if i < len(a) {
		return a[i]
	}
	return ""
}

// wrap names the command and its argument in an error.
func wrap(cmd, arg string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", cmd, arg, err)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// toggle flips *b, or sets it from "on" or "off".
func toggle(b *bool, args []string) error {
	switch strings.ToLower(at(args, 0)) {
	case "":
		*b = !*b
	case "on":
		*b = true
	case "off":
		*b = false
	default:
		return usagef("want on or off, not %q", args[0])
	}
	return nil
}

func (sh *shell) toggleAtomic(b interface {
	Load() bool
	Store(bool)
}, args []string, what string) error {
	v := b.Load()
	if err := toggle(&v, args); err != nil {
		return err
	}
	b.Store(v)
	sh.say("%s %s.", what, onOff(v))
	return nil
}

// splitWords splits a command line into words as a POSIX shell would,
// with no expansion: blanks separate words; single quotes keep what
// they enclose as it is; double quotes too, except that a backslash
// escapes a double quote, a backslash, "$" or "`" in them; outside
// quotes a backslash escapes any character.
func splitWords(line string) ([]string, error) {
	words, err := shellquote.Split(line)
	switch {
	case errors.Is(err, shellquote.UnterminatedSingleQuoteError), errors.Is(err, shellquote.UnterminatedDoubleQuoteError):
		return nil, errors.New("unterminated quote")
	case errors.Is(err, shellquote.UnterminatedEscapeError):
		return nil, errors.New("a backslash ends the line: it escapes nothing")
	case err != nil:
		return nil, err
	}
	return words, nil
}

func (sh *shell) ls(ctx context.Context, args []string) error {
	s, err := sh.data(ctx)
	if err != nil {
		return err
	}
	dir := at(args, 0)
	names, err := s.NameList(ctx, dir)
	if err != nil {
		return fmt.Errorf("ls %s: %w", displayRemote(dir), err)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintln(sh.out, n)
	}
	return nil
}

func (sh *shell) dir(ctx context.Context, args []string) error {
	s, err := sh.data(ctx)
	if err != nil {
		return err
	}
	dir := at(args, 0)
	entries, err := s.List(ctx, dir)
	if err != nil {
		return fmt.Errorf("dir %s: %w", displayRemote(dir), err)
	}
	sh.cache.put(sh.absRemote(dir), entries)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	for _, e := range entries {
		writeLong(sh.out, e)
	}
	return nil
}

func (sh *shell) cdup(ctx context.Context, _ []string) error {
	if err := sh.sess.Cdup(ctx); err != nil {
		return fmt.Errorf("cdup: %w", err)
	}
	return sh.learnCwd(ctx)
}

func (sh *shell) pwd(ctx context.Context, _ []string) error {
	if err := sh.learnCwd(ctx); err != nil {
		return err
	}
	sh.say("Remote directory: %s", sh.cwd)
	return nil
}

func (sh *shell) lcd(_ context.Context, args []string) error {
	dir := at(args, 0)
	if dir == "" {
		dir = "~"
	}
	p := sh.resolveLocal(dir)
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("lcd: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("lcd: %s is not a directory", p)
	}
	sh.lcwd = p
	sh.say("Local directory now %s", p)
	return nil
}

// meter reports one command's transfers, as the progress setting says.
func (sh *shell) meter(ctx context.Context) *meter {
	return newMeter(ctx, sh.env, !sh.progress)
}

// summary prints the classic client's line after a transfer, with verbose.
func (sh *shell) summary(m *meter, verb string, d time.Duration) {
	if !sh.verbose.Load() {
		return
	}
	m.mu.Lock()
	n := m.bytes
	m.mu.Unlock()
	sh.say("%d bytes %s in %.2f secs (%s/s)", n, verb, d.Seconds(), humanBytes(rate(n, d)))
}

// transfer runs one transfer command with a meter for it, and prints
// the summary after it with verbose.
func (sh *shell) transfer(ctx context.Context, verb string, do func(s *session, o xferOpts) error) error {
	s, err := sh.data(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	m := sh.meter(ctx)
	err = do(s, xferOpts{text: !sh.binary, meter: m})
	m.wait()
	if err != nil {
		return err
	}
	sh.summary(m, verb, time.Since(start))
	return nil
}

func (sh *shell) get(ctx context.Context, remote, local string, resume bool) error {
	if resume && !sh.binary {
		// Offsets count bytes on the wire, which ASCII line ends change.
		return usagef("reget needs binary mode")
	}
	if local == "" {
		local = path.Base(remote)
	}
	lp := sh.resolveLocal(local)
	if fi, err := os.Stat(lp); err == nil && fi.IsDir() {
		lp = filepath.Join(lp, path.Base(remote))
	}
	return sh.transfer(ctx, "received", func(s *session, o xferOpts) error {
		size := int64(-1)
		if sh.binary { // a size in ASCII mode is the server's guess, or refused
			if n, err := s.Size(ctx, remote); err == nil {
				size = n
			}
		}
		mtime, _ := s.ModTime(ctx, remote)
		o.resume = resume
		return download(ctx, s, remote, lp, size, mtime, o, local)
	})
}

func (sh *shell) put(ctx context.Context, local, remote string) error {
	if remote == "" {
		remote = filepath.Base(local)
	}
	lp := sh.resolveLocal(local)
	if fi, err := os.Stat(lp); err != nil {
		return fmt.Errorf("put: %w", err)
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("put: %s is not a regular file", local)
	}
	return sh.transfer(ctx, "sent", func(s *session, o xferOpts) error {
		return upload(ctx, s, lp, remote, o, remote)
	})
}

func (sh *shell) appendFile(ctx context.Context, local, remote string) error {
	if remote == "" {
		remote = filepath.Base(local)
	}
	f, err := os.Open(sh.resolveLocal(local))
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return sh.transfer(ctx, "sent", func(s *session, o xferOpts) error {
		t := o.meter.start(remote, fi.Size(), 0)
		var r io.Reader = f
		if o.text {
			r = ftp.NewCRLFReader(f)
		}
		_, err := s.Append(ctx, remote, io.TeeReader(r, t))
		t.done(err)
		if err != nil {
			return fmt.Errorf("append %s: %w", remote, err)
		}
		return nil
	})
}

// confirm asks, when prompt is on, whether to go on with name; "a"
// answers yes for the rest of the command and "q" stops it.
func (sh *shell) confirm(verb, name string, all *bool) (yes, stop bool, err error) {
	if !sh.prompt || *all {
		return true, false, nil
	}
	for range 3 {
		q := fmt.Sprintf("%s %s [anqy]? ", verb, name)
		if !sh.interactive {
			sh.say("%s", q) // a script answers on its next line
		}
		ans, err := sh.in.line(q)
		if err != nil {
			return false, true, err
		}
		switch strings.ToLower(strings.TrimSpace(ans)) {
		case "", "y", "yes":
			return true, false, nil
		case "n", "no":
			return false, false, nil
		case "a", "all":
			*all = true
			return true, false, nil
		case "q", "quit":
			return false, true, nil
		}
		sh.say("answer y (yes), n (no), a (all the rest) or q (stop)")
	}
	return false, true, nil
}

// remoteGlob expands a pattern whose last element may hold *, ? and
// [...], by listing its directory (MLSD, else LIST); with files, only
// regular files match. A pattern without them is returned as it is.
func (sh *shell) remoteGlob(ctx context.Context, pattern string, files bool) ([]string, error) {
	if !strings.ContainsAny(pattern, "*?[") {
		return []string{pattern}, nil
	}
	dir, base := path.Split(pattern)
	if strings.ContainsAny(dir, "*?[") {
		return nil, usagef("%s: a glob may only be in the last element", pattern)
	}
	if _, err := path.Match(base, ""); err != nil {
		return nil, usagef("%s: %v", pattern, err)
	}
	s, err := sh.data(ctx)
	if err != nil {
		return nil, err
	}
	entries, err := s.List(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", displayRemote(dir), err)
	}
	sh.cache.put(sh.absRemote(dir), entries)
	var names []string
	for _, e := range entries {
		if files && e.Type != ftp.EntryFile {
			continue
		}
		if ok, _ := path.Match(base, e.Name); ok {
			names = append(names, dir+e.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no remote file matches", pattern)
	}
	sort.Strings(names)
	return names, nil
}

// each runs do on every name the patterns expand to, asking first when
// prompt is on; it goes on after a failure and returns them joined.
func (sh *shell) each(verb string, patterns []string, expand func(string) ([]string, error), do func(string) error) error {
	var errs []error
	all := false
	for _, p := range patterns {
		names, err := expand(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, n := range names {
			yes, stop, err := sh.confirm(verb, n, &all)
			if err != nil || stop {
				return errors.Join(append(errs, err)...)
			}
			if yes {
				errs = append(errs, do(n))
			}
		}
	}
	return errors.Join(errs...)
}

func (sh *shell) remoteFiles(ctx context.Context) func(string) ([]string, error) {
	return func(p string) ([]string, error) { return sh.remoteGlob(ctx, p, true) }
}

func (sh *shell) mget(ctx context.Context, patterns []string) error {
	return sh.each("mget", patterns, sh.remoteFiles(ctx), func(n string) error {
		return sh.get(ctx, n, path.Base(n), false)
	})
}

func (sh *shell) mdelete(ctx context.Context, patterns []string) error {
	return sh.each("mdelete", patterns, sh.remoteFiles(ctx), func(n string) error {
		return wrap("delete", n, sh.sess.Delete(ctx, n))
	})
}

func (sh *shell) mput(ctx context.Context, patterns []string) error {
	return sh.each("mput", patterns, sh.localGlob, func(n string) error {
		return sh.put(ctx, n, filepath.Base(n))
	})
}

// localGlob expands a local pattern, relative to lcd's directory, to
// the regular files it matches.
func (sh *shell) localGlob(pattern string) ([]string, error) {
	matches, err := filepath.Glob(sh.resolveLocal(pattern))
	if err != nil {
		return nil, usagef("%s: %v", pattern, err)
	}
	var files []string
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
			files = append(files, m)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no local file matches", pattern)
	}
	return files, nil
}

func (sh *shell) size(ctx context.Context, args []string) error {
	n, err := sh.sess.Size(ctx, args[0])
	if err != nil {
		return wrap("size", args[0], err)
	}
	sh.say("%s\t%d", args[0], n)
	return nil
}

func (sh *shell) modtime(ctx context.Context, args []string) error {
	t, err := sh.sess.ModTime(ctx, args[0])
	if err != nil {
		return wrap("modtime", args[0], err)
	}
	sh.say("%s\t%s", args[0], t.UTC().Format("2006-01-02 15:04:05 UTC"))
	return nil
}

// setType selects binary or ASCII transfers, on the server too when
// connected.
func (sh *shell) setType(ctx context.Context, binary bool) error {
	if sh.sess != nil {
		if err := sh.sess.Type(ctx, binary); err != nil {
			return fmt.Errorf("type: %w", err)
		}
	}
	sh.binary = binary
	sh.say("Using %s mode to transfer files.", typeName(binary))
	return nil
}

func typeName(binary bool) string {
	if binary {
		return "binary"
	}
	return "ascii"
}

func (sh *shell) typeCmd(ctx context.Context, args []string) error {
	switch strings.ToLower(at(args, 0)) {
	case "":
		sh.say("Using %s mode to transfer files.", typeName(sh.binary))
		return nil
	case "binary", "image", "i":
		return sh.setType(ctx, true)
	case "ascii", "a":
		return sh.setType(ctx, false)
	}
	return usagef("type: want binary or ascii, not %q", args[0])
}

func (sh *shell) status(_ context.Context, _ []string) error {
	if sh.sess == nil {
		sh.say("Not connected.")
	} else {
		tls := ""
		if _, ok := sh.sess.TLSState(); ok {
			tls = ", TLS"
		}
		sh.say("Connected to %s as %s%s.", sh.sess.remote.Host, sh.dialer.user, tls)
		sh.say("Remote directory: %s", sh.cwd)
	}
	sh.say("Local directory: %s", sh.lcwd)
	sh.say("Data connections: %s (passive %s, epsv %s); type: %s", modeText(sh.mode()), onOff(sh.passive), onOff(sh.epsv), typeName(sh.binary))
	sh.say("Verbose: %s; debug: %s; prompt: %s; progress: %s",
		onOff(sh.verbose.Load()), onOff(sh.debug.Load()), onOff(sh.prompt), onOff(sh.progress))
	return nil
}

// modeText explains a data-connection mode.
func modeText(m client.Mode) string {
	switch m {
	case client.ModePassive:
		return "passive: EPSV, then PASV"
	case client.ModeActive:
		return "active: EPRT, then PORT"
	case client.ModeAuto:
		return "auto: passive, then active"
	}
	return m.String() + " only"
}

func (sh *shell) quote(ctx context.Context, args []string) error {
	rep, err := sh.sess.Quote(ctx, args[0])
	if err != nil {
		return fmt.Errorf("quote: %w", err)
	}
	if !sh.verbose.Load() && !sh.debug.Load() {
		fmt.Fprintln(sh.out, rep.Error())
	}
	if rep.Code >= 400 {
		return fmt.Errorf("quote: %w", rep)
	}
	return nil
}

func (sh *shell) help(_ context.Context, args []string) error {
	if name := at(args, 0); name != "" {
		c, ok := lookupCommand(name)
		if !ok {
			return usagef("?Invalid help command %q", name)
		}
		line := c.name
		if c.usage != "" {
			line += " " + c.usage
		}
		sh.say("%s\n  %s", line, c.help)
		if len(c.aliases) > 0 {
			sh.say("  also: %s", strings.Join(c.aliases, ", "))
		}
		return nil
	}
	sh.say("Commands (help COMMAND explains one; !CMD runs a local shell command):")
	cmds := shellCommands()
	for i := 0; i < len(cmds); i += 6 {
		var b strings.Builder
		for _, c := range cmds[i:min(i+6, len(cmds))] {
			fmt.Fprintf(&b, "%-10s", c.name)
		}
		sh.say("%s", strings.TrimRight(b.String(), " "))
	}
	return nil
}

// local runs a command of the local shell in lcd's directory.
func (sh *shell) local(ctx context.Context, line string) error {
	line = strings.TrimSpace(line)
	if line == "" {
		if !sh.interactive {
			return usagef("! wants a command")
		}
		line = os.Getenv("SHELL")
		if line == "" {
			line = "/bin/sh"
		}
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", line)
	cmd.Dir, cmd.Stdout, cmd.Stderr = sh.lcwd, sh.out, sh.env.Stderr
	if sh.interactive {
		cmd.Stdin = sh.env.Stdin
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("!%s: %w", line, err)
	}
	return nil
}
