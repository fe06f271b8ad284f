package server

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestLoginSequence(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.cmd(ftp.CodeNotLoggedIn, "PWD")
	c.cmd(ftp.CodeBadSequence, "PASS secret")
	c.cmd(ftp.CodeNeedPassword, "USER alice")
	c.cmd(ftp.CodeNotLoggedIn, "PASS wrong")
	c.cmd(ftp.CodeNeedPassword, "USER alice")
	c.cmd(ftp.CodeLoggedIn, "PASS secret")
	if got := c.cmd(ftp.CodePathCreated, "PWD"); !strings.HasPrefix(got, `"/"`) {
		t.Fatalf("PWD = %q", got)
	}
	c.cmd(ftp.CodeBadSequence, "USER bob")
	c.cmd(ftp.CodeServiceReady, "REIN")
	c.cmd(ftp.CodeNotLoggedIn, "PWD")
	c.login("bob")
	c.cmd(ftp.CodeClosing, "QUIT")
}

func TestTooManyLoginFailuresDisconnects(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxLoginAttempts = 2 })
	c := dial(t, ts.addr)
	c.cmd(ftp.CodeNeedPassword, "USER alice")
	c.cmd(ftp.CodeNotLoggedIn, "PASS a")
	c.cmd(ftp.CodeNeedPassword, "USER alice")
	c.cmd(ftp.CodeNotLoggedIn, "PASS b")
	c.expect(ftp.CodeServiceUnavailable)
}

func TestBadInput(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxLineLength = 64 })
	c := dial(t, ts.addr)
	c.cmd(ftp.CodeSyntaxError, "FOOBAR x")
	c.cmd(ftp.CodeSyntaxError, "NOT-A-VERB")
	c.cmd(ftp.CodeSyntaxError, strings.Repeat("A", 10000))
	c.cmd(ftp.CodeBadArguments, "USER")
	c.login("alice")
	c.cmd(ftp.CodeBadSequence, "RNTO x")
	c.cmd(ftp.CodeBadArguments, "TYPE Z")
	c.cmd(ftp.CodeNotImplParam, "TYPE E")
	c.cmd(ftp.CodeNotImplParam, "MODE B")
	c.cmd(ftp.CodeNotImplParam, "STRU R")
	c.cmd(ftp.CodeBadArguments, "REST -1")
	c.cmd(ftp.CodeBadArguments, "PORT 1,2,3")
	c.cmd(ftp.CodeNetworkProtocol, "EPRT |3|x|1|")
	ts.write(t, "exists", []byte("x"))
	c.cmd(ftp.CodeCantOpenData, "RETR exists") // no PASV/PORT before
	// Telnet: an escaped IAC and option negotiation around a command.
	_, _ = c.conn.Write([]byte("\xff\xfb\x01NO\xff\xf4OP\r\n"))
	c.expect(ftp.CodeOK)
	c.cmd(ftp.CodeOK, "noop") // verbs are case-insensitive
}

func TestDirectoryCommands(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.login("alice")
	if got := c.cmd(ftp.CodePathCreated, `MKD a "quoted" dir`); got != `"/a ""quoted"" dir" created.` {
		t.Fatalf("MKD reply %q", got)
	}
	c.cmd(ftp.CodeFileActionOK, `CWD a "quoted" dir`)
	c.cmd(ftp.CodePathCreated, "XMKD sub")
	c.cmd(ftp.CodeFileActionOK, "XCWD sub")
	if got := c.cmd(ftp.CodePathCreated, "XPWD"); !strings.HasPrefix(got, `"/a ""quoted"" dir/sub"`) {
		t.Fatalf("PWD %q", got)
	}
	c.cmd(ftp.CodeFileActionOK, "CDUP")
	c.cmd(ftp.CodeFileActionOK, "CWD ../../../..") // cannot climb above the root
	if got := c.cmd(ftp.CodePathCreated, "PWD"); !strings.HasPrefix(got, `"/"`) {
		t.Fatalf("PWD after climbing %q", got)
	}
	c.cmd(ftp.CodeFileActionDenied, "CWD missing")
	c.cmd(ftp.CodeFileActionDenied, `RMD a "quoted" dir`) // not empty
	c.cmd(ftp.CodeFileActionOK, `RMD a "quoted" dir/sub`)
	c.cmd(ftp.CodeFileActionOK, `XRMD /a "quoted" dir`)
	c.cmd(ftp.CodeFileActionDenied, "RMD /")
	if _, err := os.Stat(filepath.Join(ts.root, `a "quoted" dir`)); !os.IsNotExist(err) {
		t.Fatalf("dir still there: %v", err)
	}
}

func TestFileCommands(t *testing.T) {
	ts := startServer(t, nil)
	ts.write(t, "f.txt", []byte("hello"))
	c := dial(t, ts.addr)
	c.login("alice")
	if got := c.cmd(ftp.CodeFileStatus, "SIZE f.txt"); got != "5" {
		t.Fatalf("SIZE %q", got)
	}
	c.cmd(ftp.CodeFileActionDenied, "SIZE missing")
	c.cmd(ftp.CodeFileStatus, "MFMT 20200102030405 f.txt")
	if got := c.cmd(ftp.CodeFileStatus, "MDTM f.txt"); got != "20200102030405" {
		t.Fatalf("MDTM %q", got)
	}
	c.cmd(ftp.CodeFilePending, "RNFR f.txt")
	c.cmd(ftp.CodeFileActionOK, "RNTO g.txt")
	c.cmd(ftp.CodeFilePending, "RNFR g.txt")
	c.cmd(ftp.CodeOK, "NOOP")
	c.cmd(ftp.CodeBadSequence, "RNTO h.txt") // RNFR must come right before
	c.cmd(ftp.CodeOK, "SITE CHMOD 600 g.txt")
	if st, err := os.Stat(filepath.Join(ts.root, "g.txt")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("chmod: %v %v", st.Mode(), err)
	}
	c.cmd(ftp.CodeFileActionOK, "DELE g.txt")
	c.cmd(ftp.CodeFileActionDenied, "DELE g.txt")
	if got := c.cmd(ftp.CodeSystemStatus, "STAT"); !strings.Contains(got, "Logged in as alice") {
		t.Fatalf("STAT %q", got)
	}
}

func TestReadOnlyUser(t *testing.T) {
	ts := startServer(t, nil)
	ts.write(t, "f.txt", []byte("hello"))
	c := dial(t, ts.addr)
	c.login("bob")
	c.cmd(ftp.CodeFileActionDenied, "DELE f.txt")
	c.cmd(ftp.CodeFileActionDenied, "MKD d")
	c.cmd(ftp.CodeFileActionDenied, "RNFR f.txt")
	c.cmd(ftp.CodeFileActionDenied, "STOR new.txt")
	c.cmd(ftp.CodeFileActionDenied, "SITE CHMOD 777 f.txt")
	if got := string(ts.read(t, "f.txt")); got != "hello" {
		t.Fatal(got)
	}
}

func TestRetrStorEveryMode(t *testing.T) {
	ts := startServer(t, nil)
	data := randomBytes(3<<20 + 17)
	for _, mode := range []string{"EPSV", "PASV", "PORT", "EPRT"} {
		t.Run(mode, func(t *testing.T) {
			c := dial(t, ts.addr)
			c.login("alice")
			name := "up-" + mode
			dc := c.open(mode, "STOR "+name)
			writeAll(t, dc, data)
			c.expect(ftp.CodeTransferComplete)
			if sum(ts.read(t, name)) != sum(data) {
				t.Fatal("uploaded bytes differ")
			}
			dc = c.open(mode, "RETR "+name)
			if got := readAll(t, dc); sum(got) != sum(data) {
				t.Fatalf("downloaded %d bytes, differ", len(got))
			}
			c.expect(ftp.CodeTransferComplete)
		})
	}
}

// open sets up a data connection in mode, sends the transfer command and
// returns the data connection after the 150.
func (c *ctrl) open(mode, command string) net.Conn {
	c.t.Helper()
	switch mode {
	case "EPSV":
		dc := c.epsv()
		c.cmd(ftp.CodeFileStatusOK, command)
		return dc
	case "PASV":
		dc, _ := c.pasv()
		c.cmd(ftp.CodeFileStatusOK, command)
		return dc
	default:
		ch := c.active(mode)
		c.cmd(ftp.CodeFileStatusOK, command)
		dc, ok := <-ch
		if !ok {
			c.t.Fatal("no active data connection")
		}
		c.t.Cleanup(func() { dc.Close() })
		return dc
	}
}

func TestRestartAppendUnique(t *testing.T) {
	ts := startServer(t, nil)
	data := randomBytes(100000)
	ts.write(t, "f", data)
	c := dial(t, ts.addr)
	c.login("alice")
	c.cmd(ftp.CodeFilePending, "REST 40000")
	dc := c.open("EPSV", "RETR f")
	if got := readAll(t, dc); !bytes.Equal(got, data[40000:]) {
		t.Fatalf("REST download: %d bytes", len(got))
	}
	c.expect(ftp.CodeTransferComplete)

	// Resume an upload: the first 1000 bytes are there, REST+STOR the rest.
	ts.write(t, "up", data[:1000])
	c.cmd(ftp.CodeFilePending, "REST 1000")
	dc = c.open("EPSV", "STOR up")
	writeAll(t, dc, data[1000:])
	c.expect(ftp.CodeTransferComplete)
	if !bytes.Equal(ts.read(t, "up"), data) {
		t.Fatal("resumed upload differs")
	}

	dc = c.open("EPSV", "APPE up")
	writeAll(t, dc, []byte("tail"))
	c.expect(ftp.CodeTransferComplete)
	if got := ts.read(t, "up"); !bytes.Equal(got, append(append([]byte{}, data...), "tail"...)) {
		t.Fatal("append differs")
	}

	dc = c.epsv()
	msg := c.cmd(ftp.CodeFileStatusOK, "STOU")
	name, ok := strings.CutPrefix(msg, "FILE: ")
	if !ok {
		t.Fatalf("STOU reply %q", msg)
	}
	writeAll(t, dc, []byte("unique"))
	c.expect(ftp.CodeTransferComplete)
	if got := string(ts.read(t, name)); got != "unique" {
		t.Fatalf("STOU file %q", got)
	}
	c.cmd(ftp.CodeFilePending, "REST 999999999")
	c.epsv()
	c.cmd(ftp.CodeInvalidRestart, "RETR f")
}

func TestASCIIMode(t *testing.T) {
	ts := startServer(t, nil)
	ts.write(t, "unix.txt", []byte("a\nb\r\nc\n"))
	c := dial(t, ts.addr)
	c.login("alice")
	c.cmd(ftp.CodeOK, "TYPE A")
	dc := c.open("EPSV", "RETR unix.txt")
	if got := string(readAll(t, dc)); got != "a\r\nb\r\nc\r\n" {
		t.Fatalf("ASCII download %q", got)
	}
	c.expect(ftp.CodeTransferComplete)
	dc = c.open("EPSV", "STOR dos.txt")
	writeAll(t, dc, []byte("x\r\ny\rz\r\n\r"))
	c.expect(ftp.CodeTransferComplete)
	if got := string(ts.read(t, "dos.txt")); got != "x\ny\rz\n\r" {
		t.Fatalf("ASCII upload stored %q", got)
	}
	c.cmd(ftp.CodeOK, "TYPE I")
	dc = c.open("EPSV", "RETR unix.txt")
	if got := string(readAll(t, dc)); got != "a\nb\r\nc\n" {
		t.Fatalf("binary download %q", got)
	}
	c.expect(ftp.CodeTransferComplete)
}

func TestListings(t *testing.T) {
	ts := startServer(t, nil)
	ts.write(t, "dir/one.txt", []byte("1"))
	ts.write(t, "dir/two words.txt", []byte("22"))
	ts.write(t, "dir/.hidden", []byte("h"))
	ts.write(t, "dir/.ferry-upload-abc", []byte("partial"))
	c := dial(t, ts.addr)
	c.login("alice")

	list := func(command string) string {
		dc := c.open("EPSV", command)
		out := string(readAll(t, dc))
		c.expect(ftp.CodeTransferComplete)
		return out
	}
	out := list("LIST dir")
	if !strings.Contains(out, " one.txt\r\n") || !strings.Contains(out, " two words.txt\r\n") || strings.Contains(out, ".hidden") {
		t.Fatalf("LIST:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\r\n") {
		if _, err := ftp.ParseListLine(line, time.Now()); err != nil {
			t.Errorf("LIST line %q does not parse: %v", line, err)
		}
	}
	if out := list("LIST -la dir"); !strings.Contains(out, ".hidden") || strings.Contains(out, ".ferry-upload") {
		t.Fatalf("LIST -la:\n%s", out)
	}
	if out := list("NLST dir"); out != "one.txt\r\ntwo words.txt\r\n" && out != "two words.txt\r\none.txt\r\n" {
		t.Fatalf("NLST %q", out)
	}
	// NLST reads names alone (storage.NameReader) and filters the same way.
	if out := list("NLST -a dir"); !strings.Contains(out, ".hidden\r\n") || strings.Contains(out, ".ferry-upload") ||
		strings.Count(out, "\r\n") != 3 {
		t.Fatalf("NLST -a %q", out)
	}
	out = list("MLSD dir")
	if !strings.Contains(out, "type=cdir;") || !strings.Contains(out, "size=2;") || !strings.Contains(out, "; two words.txt\r\n") {
		t.Fatalf("MLSD:\n%s", out)
	}
	if out := list("LIST dir/one.txt"); !strings.HasSuffix(out, " one.txt\r\n") || strings.Count(out, "\r\n") != 1 {
		t.Fatalf("LIST of a file %q", out)
	}
	got := c.cmd(ftp.CodeFileActionOK, "MLST dir/one.txt")
	if !strings.Contains(got, "type=file;size=1;") || !strings.Contains(got, " /dir/one.txt") {
		t.Fatalf("MLST %q", got)
	}
	c.cmd(ftp.CodeOK, "OPTS MLST size;")
	if got := c.cmd(ftp.CodeFileActionOK, "MLST dir/one.txt"); !strings.Contains(got, " size=1; /dir/one.txt") {
		t.Fatalf("MLST with size only %q", got)
	}
	c.epsv()
	c.cmd(ftp.CodeFileActionDenied, "MLSD dir/one.txt")
	got = c.cmd(ftp.CodeFileStatus, "STAT dir")
	if !strings.Contains(got, "one.txt") {
		t.Fatalf("STAT dir %q", got)
	}
}

func TestFeatAndHelp(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	feat := c.cmd(ftp.CodeSystemStatus, "FEAT")
	for _, f := range []string{"EPSV", "EPRT", "MLST type*;", "SIZE", "MDTM", "REST STREAM", "UTF8", "HASH SHA-256*"} {
		if !strings.Contains(feat, "\n "+f) {
			t.Errorf("FEAT lacks %q:\n%s", f, feat)
		}
	}
	c.cmd(ftp.CodeHelp, "HELP")
	c.cmd(ftp.CodeHelp, "HELP RETR")
	c.cmd(ftp.CodeSystemType, "SYST")
	c.cmd(ftp.CodeOK, "OPTS UTF8 ON")
}

func TestHash(t *testing.T) {
	ts := startServer(t, nil)
	data := []byte("The quick brown fox jumps over the lazy dog")
	ts.write(t, "fox", data)
	c := dial(t, ts.addr)
	c.login("alice")
	// The range's end is the last byte hashed (draft-bryan-ftpext-hash 3.4).
	want := fmt.Sprintf("SHA-256 0-%d %x fox", len(data)-1, sum(data))
	if got := c.cmd(ftp.CodeFileStatus, "HASH fox"); got != want {
		t.Fatalf("HASH %q, want %q", got, want)
	}
	c.cmd(ftp.CodeOK, "OPTS HASH MD5")
	if got := c.cmd(ftp.CodeFileStatus, "HASH fox"); got != "MD5 0-42 9e107d9d372bb6826bd81d3542a419d6 fox" {
		t.Fatalf("HASH MD5 %q", got)
	}
	c.cmd(ftp.CodeFilePending, "RANG 4 8")
	if got := c.cmd(ftp.CodeFileStatus, "HASH fox"); !strings.HasPrefix(got, "MD5 4-8 ") {
		t.Fatalf("HASH range %q", got)
	}
}

// RETR follows a link that stays inside the user's root, as vsftpd and
// ProFTPD do, and announces the size of the file it opened; a link out
// of the root, a directory and a missing file are refused with 550.
// SIZE and MDTM answer for the same file RETR would send.
func TestRetrSymlinks(t *testing.T) {
	ts := startServer(t, nil)
	data := randomBytes(5000)
	ts.write(t, "d/real", data)
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"in": "d/real", "out": outside, "dirlink": "d"} {
		if err := os.Symlink(target, filepath.Join(ts.root, link)); err != nil {
			t.Fatal(err)
		}
	}
	c := dial(t, ts.addr)
	c.login("alice")
	c.cmd(ftp.CodeOK, "TYPE I")
	dc := c.epsv()
	msg := c.cmd(ftp.CodeFileStatusOK, "RETR in")
	if !strings.Contains(msg, "(5000 bytes)") {
		t.Fatalf("150 reply %q does not announce the target's 5000 bytes", msg)
	}
	if got := readAll(t, dc); !bytes.Equal(got, data) {
		t.Fatalf("RETR through a link: %d bytes, want %d", len(got), len(data))
	}
	c.expect(ftp.CodeTransferComplete)
	c.cmd(ftp.CodeFilePending, "REST 4000")
	dc = c.epsv()
	c.cmd(ftp.CodeFileStatusOK, "RETR dirlink/real")
	if got := readAll(t, dc); !bytes.Equal(got, data[4000:]) {
		t.Fatalf("RETR with REST through a directory link: %d bytes, want 1000", len(got))
	}
	c.expect(ftp.CodeTransferComplete)
	for _, name := range []string{"out", "d", "dirlink", "missing"} {
		c.epsv()
		c.cmd(ftp.CodeFileActionDenied, "RETR "+name)
	}
	// SIZE and MDTM describe what the link leads to, as RETR sends it.
	if got := c.cmd(ftp.CodeFileStatus, "SIZE in"); got != "5000" {
		t.Fatalf("SIZE of a link to a 5000-byte file: %q", got)
	}
	c.cmd(ftp.CodeFileStatus, "MDTM in")
	for _, name := range []string{"out", "dirlink"} {
		c.cmd(ftp.CodeFileActionDenied, "SIZE "+name)
	}
}
