package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runShell runs `ferry shell` in-process with script as its (non
// terminal) stdin, and fails the test if the password shows.
func runShell(t *testing.T, script string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	args = append([]string{"shell", "--timeout", "20s", "--history", ""}, args...)
	code := run(ctx, args, &Env{Stdin: strings.NewReader(script), Stdout: &out, Stderr: &errb})
	if strings.Contains(out.String()+errb.String(), ftpPass) {
		t.Errorf("the shell printed the password:\n%s\n%s", out.String(), errb.String())
	}
	return code, out.String(), errb.String()
}

// after returns what follows the first line of s containing marker,
// failing the test if there is none.
func after(t *testing.T, s, marker string) string {
	t.Helper()
	_, rest, ok := strings.Cut(s, marker)
	if !ok {
		t.Fatalf("no %q in:\n%s", marker, s)
	}
	return rest
}

// TestShellScript drives every command through a script on stdin and
// checks the files on both sides and the debug transcript.
func TestShellScript(t *testing.T) {
	srv := startFTP(t, false)
	local, down := t.TempDir(), t.TempDir()
	big := randomData(t, 300<<10)
	up := randomData(t, 70<<10)
	writeFile(t, filepath.Join(srv.root, "a.bin"), string(big))
	writeFile(t, filepath.Join(srv.root, "part.bin"), string(big))
	writeFile(t, filepath.Join(down, "part.bin"), string(big[:100<<10])) // reget continues it
	writeFile(t, filepath.Join(srv.root, "log.txt"), "start\n")
	writeFile(t, filepath.Join(srv.root, "text.txt"), "one\ntwo\n\nthree\n")
	writeFile(t, filepath.Join(local, "up.bin"), string(up))
	writeFile(t, filepath.Join(local, "more.txt"), "more\n")
	writeFile(t, filepath.Join(local, "m1.txt"), "first\n")
	writeFile(t, filepath.Join(local, "m2.txt"), "second\n")
	writeFile(t, filepath.Join(local, "skip.dat"), "not matched\n")
	writeFile(t, filepath.Join(local, "lines.txt"), "alpha\nbeta\n")

	host, port, err := net.SplitHostPort(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`# a comment, then the settings
lcd %s
status
debug
passive
epsv
ls
passive
dir
epsv
ls
user %s %s
debug
put up.bin
append more.txt log.txt
mkdir sub
cd sub
pwd
mput m*.txt
ls
cdup
lcd %s
mget sub/m*.txt
get a.bin
reget part.bin
size a.bin
modtime a.bin
rename up.bin sub/up2.bin
get sub/up2.bin up2.bin
mdelete sub/m*.txt
delete sub/up2.bin
rmdir sub
ascii
get text.txt text-local.txt
lcd %s
put lines.txt
binary
get lines.txt lines-binary.txt
type
quote NOOP
quote SITE NO'SUCH "THING
get nosuch.bin
verbose
get a.bin a2.bin
verbose
help
help mget
prompt
prompt
close
ls
!echo from the local shell > bang.txt
open %s %s
pwd
user %s
%s
pwd
bye
`, local, ftpUser, ftpPass, down, local, host, port, ftpUser, ftpPass)

	code, out, errOut := runShell(t, script, srv.url(""))
	t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)

	// Files on both sides.
	sameFile(t, filepath.Join(down, "a.bin"), big)
	sameFile(t, filepath.Join(local, "a2.bin"), big)
	sameFile(t, filepath.Join(down, "part.bin"), big)
	sameFile(t, filepath.Join(down, "up2.bin"), up)
	sameFile(t, filepath.Join(down, "m1.txt"), []byte("first\n"))
	sameFile(t, filepath.Join(down, "m2.txt"), []byte("second\n"))
	sameFile(t, filepath.Join(down, "text-local.txt"), []byte("one\ntwo\n\nthree\n"))
	sameFile(t, filepath.Join(local, "bang.txt"), []byte("from the local shell\n"))
	sameFile(t, filepath.Join(srv.root, "log.txt"), []byte("start\nmore\n"))
	sameFile(t, filepath.Join(srv.root, "lines.txt"), []byte("alpha\nbeta\n"))     // ascii: LF -> CRLF -> LF
	sameFile(t, filepath.Join(local, "lines-binary.txt"), []byte("alpha\nbeta\n")) // what the server stored
	for _, gone := range []string{"sub", "up.bin", "nosuch.bin"} {
		if _, err := os.Stat(filepath.Join(srv.root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s still on the server: %v", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(down, "skip.dat")); !os.IsNotExist(err) {
		t.Errorf("mput or mget moved a file no glob matched: %v", err)
	}
	if _, err := os.Stat(filepath.Join(down, "nosuch.bin")); !os.IsNotExist(err) {
		t.Errorf("a failed get left a local file: %v", err)
	}

	// Three failures: quote SITE, get nosuch.bin, ls while closed. The
	// first is a plain reply, exit 1; the shell went on to the end.
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	for _, want := range []string{"ferry: quote: 5", "ferry: get nosuch.bin: ftp transfer failed: 550 ", "ferry: not connected", "ferry: 3 commands failed"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}

	// The transcript, with debug on: PORT, PASV, EPSV as toggled on one
	// live connection, and user's login with the password masked.
	dbg := after(t, out, "Debugging on.")
	dbg, rest, _ := strings.Cut(dbg, "Debugging off.")
	for _, re := range []string{
		`Passive mode off\.\nEPSV/EPRT off\.\n`,
		`---> PASS XXXX\n`,
		`---> PORT 127,0,0,1,\d+,\d+\n200 [^\n]*\n---> NLST`,
		`Passive mode on\.\n`,
		`---> PASV\n227 Entering Passive Mode \(127,0,0,1,\d+,\d+\)\.?\n`,
		`EPSV/EPRT on\.\n`,
		`---> EPSV\n229 [^\n]*\(\|\|\|\d+\|\)`,
	} {
		if !regexp.MustCompile(re).MatchString(dbg) {
			t.Errorf("the debug transcript lacks %s", re)
		}
	}
	if strings.Contains(rest, "--->") {
		t.Errorf("debug off still shows commands:\n%s", rest)
	}
	// passive and epsv switch modes on the live connection: the only
	// login in the debug section is user's.
	if n := strings.Count(dbg, "---> USER"); n != 1 {
		t.Errorf("%d logins while toggling modes, want only user's", n)
	}
	if !strings.Contains(out, "---> PASS XXXX") || strings.Contains(out, "PASS "+ftpPass) {
		t.Errorf("PASS not masked")
	}

	// Output of the other commands.
	for _, want := range []string{
		"Local directory now " + local,
		"Data connections: passive: EPSV, then PASV (passive on, epsv on); type: binary\n",
		"Verbose: off; debug: off; prompt: off; progress: off\n",
		"Connected to 127.0.0.1:",
		"Remote directory: /sub\n",
		"m1.txt\nm2.txt\n",
		fmt.Sprintf("a.bin\t%d\n", len(big)),
		"Using ascii mode to transfer files.",
		"Using binary mode to transfer files.\nUsing binary mode to transfer files.\n", // binary, then type
		"200 ", // quote NOOP's reply
		"226 ", // verbose: the server's transfer reply
		fmt.Sprintf("%d bytes received in ", len(big)),
		"mget PATTERN...\n  download the remote files matching each glob",
		"Interactive mode on.\nInteractive mode off.\n",
		"Remote directory: /\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if !regexp.MustCompile(`a\.bin\t\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\n`).MatchString(out) {
		t.Errorf("modtime's line missing")
	}
	if strings.Contains(out, "ferry>") {
		t.Errorf("a scripted session printed prompts")
	}
	srv.mu.Lock()
	logins := append([]string(nil), srv.logins...)
	srv.mu.Unlock()
	if n := len(logins); n < 2 || logins[n-2] != "anonymous" || logins[n-1] != ftpUser {
		t.Errorf("logins %v: want anonymous (open HOST PORT), then %s (user, password on the next line)", logins, ftpUser)
	}
}

// TestShellExitOnError: -e stops at the first failure, whose exit code
// the shell returns; a clean script exits 0 with nothing on stderr.
func TestShellExitOnError(t *testing.T) {
	srv := startFTP(t, false)
	local := t.TempDir()
	code, out, errOut := runShell(t, fmt.Sprintf("lcd %s\nget missing\nmkdir never\n", local), "-e", srv.url(""))
	if code != exitTransfer && code != exitFailure || !strings.Contains(errOut, "550") || strings.Contains(errOut, "2 commands") {
		t.Errorf("-e: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(srv.root, "never")); !os.IsNotExist(err) {
		t.Errorf("-e ran the command after the failure")
	}

	code, out, errOut = runShell(t, "mkdir made\ncd made\npwd\n", srv.url(""))
	if code != 0 || errOut != "" || out != "Remote directory: /made\n" {
		t.Errorf("clean script: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}

	// An unknown command and a bad argument count are usage errors (2).
	code, _, errOut = runShell(t, "frobnicate\n", srv.url(""))
	if code != exitUsage || !strings.Contains(errOut, "Invalid command") {
		t.Errorf("unknown command: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runShell(t, "ascii\nreget x\n", srv.url(""))
	if code != exitUsage || !strings.Contains(errOut, "reget needs binary mode") {
		t.Errorf("reget in ascii: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runShell(t, "rename onlyone\n", srv.url(""))
	if code != exitUsage || !strings.Contains(errOut, "usage: rename FROM TO") {
		t.Errorf("bad arguments: exit %d, stderr %q", code, errOut)
	}
	// A refused login: exit 3; user can try again, as in the classic client.
	code, out, errOut = runShell(t, fmt.Sprintf("user %s %s\npwd\n", ftpUser, ftpPass), fmt.Sprintf("ftp://%s:wrong@%s/", ftpUser, srv.addr))
	if code != exitConnection || !strings.Contains(errOut, "530") || !strings.Contains(errOut, "1 command failed") || out != "Remote directory: /\n" {
		t.Errorf("bad password: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestShellWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"get a b", []string{"get", "a", "b"}},
		{`get "with space" b`, []string{"get", "with space", "b"}},
		{`get with\ space`, []string{"get", "with space"}},
		{"  ls\t-l  ", []string{"ls", "-l"}},
		{`put ""`, []string{"put", ""}},
		{`get 'it''s here' "a\b" "\"q\"" don\'t`, []string{"get", "its here", `a\b`, `"q"`, "don't"}},
		{`cd "$HOME" 'a"b'`, []string{"cd", "$HOME", `a"b`}},
	} {
		got, err := splitWords(tc.in)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) || len(got) != len(tc.want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`get "open`, `get don't`, `get x\`} {
		if _, err := splitWords(bad); err == nil {
			t.Errorf("splitWords(%q): no error", bad)
		}
	}
	for _, tc := range []struct{ line, last string }{
		{"get a", "a"},
		{"get ", ""},
		{`get my\ f`, `my\ f`},
		{`get it\'s`, `it\'s`},
		{`get 'a b' c`, "c"},
		{`get "my f`, `"my f`}, // open quotes: the word goes on
		{`get 'my f`, `'my f`},
		{`get "a\" b`, `"a\" b`},
	} {
		if got := tc.line[wordStart(tc.line):]; got != tc.last {
			t.Errorf("the last word of %q is %q, want %q", tc.line, got, tc.last)
		}
	}
	for _, name := range []string{"plain", "my file", `it's "here"`, `back\slash`} {
		if w, err := splitWords(quoteWord(name)); err != nil || len(w) != 1 || w[0] != name {
			t.Errorf("quoteWord(%q) = %q splits to %q, %v", name, quoteWord(name), w, err)
		}
	}
	if got := historyLine("user bob secret"); got != "user bob" {
		t.Errorf("history keeps %q", got)
	}
	for _, line := range []string{"open ftp://bob:secret@host/", `open "ftp://bob:secret@host/"`, "user bob it's-secret", `user "bob b" "secret"`} {
		if got := historyLine(line); strings.Contains(got, "secret") || !strings.HasPrefix(got, line[:4]) {
			t.Errorf("history keeps %q of %q", got, line)
		}
	}
}

// TestShellComplete: names of commands, remote names (quoted when they
// hold a space, directories with "/") from a listing cached per
// directory until a command changes the server, and local names.
func TestShellComplete(t *testing.T) {
	srv := startFTP(t, false)
	writeFile(t, filepath.Join(srv.root, "my file.txt"), "x")
	writeFile(t, filepath.Join(srv.root, "mine.bin"), "x")
	if err := os.Mkdir(filepath.Join(srv.root, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(srv.root, "docs", "guide.txt"), "x")
	local := t.TempDir()
	writeFile(t, filepath.Join(local, "upload me.txt"), "x")

	var out, errb bytes.Buffer
	sh, err := newShell(&ShellCmd{ConnFlags: ConnFlags{Mode: "passive", Timeout: 20 * time.Second}},
		&Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := sh.open(ctx, srv.url("")); err != nil {
		t.Fatal(err)
	}
	defer sh.disconnect(ctx)
	sh.lcwd = local

	check := func(line string, want ...string) {
		t.Helper()
		head, got, tail := sh.complete(ctx, line+"|tail", len([]rune(line)))
		if tail != "|tail" || !strings.HasPrefix(line, head) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("complete(%q) = %q, %q, %q; want %q", line, head, got, tail, want)
		}
	}
	check("pu", "put ")
	check("  pw", "pwd ")
	check("mg", "mget ")
	check("help pas", "passive ")
	check("get m", "mine.bin ", `my\ file.txt `)
	check(`get my\ f`, `my\ file.txt `)
	check(`get "my f`) // an open quote: not yet a word
	check("cd d", "docs/")
	check("get docs/g", "docs/guide.txt ")
	check("get /docs/g", "/docs/guide.txt ")
	check("put up", `upload\ me.txt `)
	check("pwd x") // pwd takes no names

	// The listing is cached: a file the server gains is not offered until
	// a command that changes the server runs.
	writeFile(t, filepath.Join(srv.root, "mirror.txt"), "x")
	check("get mi", "mine.bin ")
	if _, err := sh.exec(ctx, "mkdir newdir"); err != nil {
		t.Fatal(err)
	}
	check("get mi", "mine.bin ", "mirror.txt ")
	if strings.Contains(out.String(), "--->") || errb.Len() > 0 {
		t.Errorf("completion printed: %q %q", out.String(), errb.String())
	}
}

// TestShellConnectionLost: when the server closes the connection the
// shell says so once and then knows it is not connected; open works
// again.
func TestShellConnectionLost(t *testing.T) {
	srv := startFTP(t, false)
	code, out, errOut := runShell(t, fmt.Sprintf("quote QUIT\npwd\nls\nopen %s\npwd\n", srv.url("")), srv.url(""))
	if code != exitConnection {
		t.Errorf("exit %d, want %d (the first failure: the lost connection)", code, exitConnection)
	}
	for _, want := range []string{"connection lost; use open", "ferry: not connected", "2 commands failed"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "221 ") || !strings.HasSuffix(out, "Remote directory: /\n") {
		t.Errorf("stdout:\n%s", out)
	}
}

// TestShellPrompt: with prompt on, mget, mput and mdelete ask before
// each file and a script answers on its next lines; progress on prints a
// line per file when stderr is not a terminal.
func TestShellPrompt(t *testing.T) {
	srv := startFTP(t, false)
	local := t.TempDir()
	for _, n := range []string{"a.txt", "b.txt", "c.txt"} {
		writeFile(t, filepath.Join(srv.root, n), "remote "+n)
	}
	writeFile(t, filepath.Join(local, "up1.dat"), "1")
	writeFile(t, filepath.Join(local, "up2.dat"), "2")
	script := fmt.Sprintf(`lcd %s
prompt
mget *.txt
n
y
q
mput *.dat
maybe
n
y
mdelete *.txt
a
prompt off
progress
get up2.dat copy.dat
exit
`, local)
	code, out, errOut := runShell(t, script, srv.url(""))
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	sameFile(t, filepath.Join(local, "b.txt"), []byte("remote b.txt"))
	sameFile(t, filepath.Join(srv.root, "up2.dat"), []byte("2"))
	sameFile(t, filepath.Join(local, "copy.dat"), []byte("2"))
	for _, skipped := range []string{filepath.Join(local, "a.txt"), filepath.Join(local, "c.txt"), filepath.Join(srv.root, "up1.dat")} {
		if _, err := os.Stat(skipped); !os.IsNotExist(err) {
			t.Errorf("%s: answered no, but it exists", skipped)
		}
	}
	for _, gone := range []string{"a.txt", "b.txt", "c.txt"} {
		if _, err := os.Stat(filepath.Join(srv.root, gone)); !os.IsNotExist(err) {
			t.Errorf("mdelete answered all, but %s is still there", gone)
		}
	}
	for _, want := range []string{
		"Interactive mode on.\nmget a.txt [anqy]? \nmget b.txt [anqy]? \nmget c.txt [anqy]? \n",
		"mput " + filepath.Join(local, "up1.dat") + " [anqy]? \nanswer y (yes), n (no), a (all the rest) or q (stop)\n",
		"mdelete a.txt [anqy]? \nInteractive mode off.\n", // a: no more questions
		"Progress bar on.\ncopy.dat  1 B  ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

// TestShellTLS: the connection flags apply; status tells the session
// is secured.
func TestShellTLS(t *testing.T) {
	srv := startFTP(t, true)
	local := t.TempDir()
	data := randomData(t, 50<<10)
	writeFile(t, filepath.Join(local, "sec.bin"), string(data))
	script := fmt.Sprintf("lcd %s\nstatus\nput sec.bin\nget sec.bin back.bin\n", local)
	code, out, errOut := runShell(t, script, "--tls", "--ca-file", srv.caFile, srv.url(""))
	if code != 0 || !strings.Contains(out, "as "+ftpUser+", TLS.") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	sameFile(t, filepath.Join(local, "back.bin"), data)
}
