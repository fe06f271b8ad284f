package server_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
)

func TestLoginSequence(t *testing.T) {
	ts := ftptest.NewServer(t)
	c := ts.Dial(t)
	c.Want(ftp.CodeNotLoggedIn, "PWD")
	c.Want(ftp.CodeBadSequence, "PASS "+ftptest.Password)
	c.Want(ftp.CodeNeedPassword, "USER alice")
	c.Want(ftp.CodeNotLoggedIn, "PASS wrong")
	c.Want(ftp.CodeNeedPassword, "USER alice")
	c.Want(ftp.CodeLoggedIn, "PASS "+ftptest.Password)
	if got := c.Want(ftp.CodePathCreated, "PWD"); !strings.HasPrefix(got, `"/"`) {
		t.Fatalf("PWD = %q", got)
	}
	c.Want(ftp.CodeBadSequence, "USER bob")
	c.Want(ftp.CodeServiceReady, "REIN")
	c.Want(ftp.CodeNotLoggedIn, "PWD")
	c.Login(ftptest.ReadOnlyUser, ftptest.Password)
	c.Want(ftp.CodeClosing, "QUIT")
}

func TestTooManyLoginFailuresDisconnects(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.MaxLoginAttempts = 2 })
	c := ts.Dial(t)
	c.Want(ftp.CodeNeedPassword, "USER alice")
	c.Want(ftp.CodeNotLoggedIn, "PASS a")
	c.Want(ftp.CodeNeedPassword, "USER alice")
	c.Want(ftp.CodeNotLoggedIn, "PASS b")
	c.Expect(ftp.CodeServiceUnavailable)
}

func TestBadInput(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.MaxLineLength = 64 })
	c := ts.Dial(t)
	c.Want(ftp.CodeSyntaxError, "FOOBAR x")
	c.Want(ftp.CodeSyntaxError, "NOT-A-VERB")
	c.Want(ftp.CodeSyntaxError, strings.Repeat("A", 10000))
	c.Want(ftp.CodeBadArguments, "USER")
	c.Login(ftptest.User, ftptest.Password)
	c.Want(ftp.CodeBadSequence, "RNTO x")
	c.Want(ftp.CodeBadArguments, "TYPE Z")
	c.Want(ftp.CodeNotImplParam, "TYPE E")
	c.Want(ftp.CodeNotImplParam, "MODE B")
	c.Want(ftp.CodeNotImplParam, "STRU R")
	c.Want(ftp.CodeBadArguments, "REST -1")
	c.Want(ftp.CodeBadArguments, "PORT 1,2,3")
	c.Want(ftp.CodeNetworkProtocol, "EPRT |3|x|1|")
	ts.WriteFile(t, "exists", []byte("x"))
	c.Want(ftp.CodeCantOpenData, "RETR exists") // no PASV/PORT before
	// Telnet: an escaped IAC and option negotiation around a command.
	_, _ = c.NetConn().Write([]byte("\xff\xfb\x01NO\xff\xf4OP\r\n"))
	c.Expect(ftp.CodeOK)
	c.Want(ftp.CodeOK, "noop") // verbs are case-insensitive
}

func TestDirectoryCommands(t *testing.T) {
	ts := ftptest.NewServer(t)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	if got := c.Want(ftp.CodePathCreated, `MKD a "quoted" dir`); got != `"/a ""quoted"" dir" created.` {
		t.Fatalf("MKD reply %q", got)
	}
	c.Want(ftp.CodeFileActionOK, `CWD a "quoted" dir`)
	c.Want(ftp.CodePathCreated, "XMKD sub")
	c.Want(ftp.CodeFileActionOK, "XCWD sub")
	if got := c.Want(ftp.CodePathCreated, "XPWD"); !strings.HasPrefix(got, `"/a ""quoted"" dir/sub"`) {
		t.Fatalf("PWD %q", got)
	}
	c.Want(ftp.CodeFileActionOK, "CDUP")
	c.Want(ftp.CodeFileActionOK, "CWD ../../../..") // cannot climb above the root
	if got := c.Want(ftp.CodePathCreated, "PWD"); !strings.HasPrefix(got, `"/"`) {
		t.Fatalf("PWD after climbing %q", got)
	}
	c.Want(ftp.CodeFileActionDenied, "CWD missing")
	c.Want(ftp.CodeFileActionDenied, `RMD a "quoted" dir`) // not empty
	c.Want(ftp.CodeFileActionOK, `RMD a "quoted" dir/sub`)
	c.Want(ftp.CodeFileActionOK, `XRMD /a "quoted" dir`)
	c.Want(ftp.CodeFileActionDenied, "RMD /")
	if _, err := os.Stat(filepath.Join(ts.Root, `a "quoted" dir`)); !os.IsNotExist(err) {
		t.Fatalf("dir still there: %v", err)
	}
}

func TestFileCommands(t *testing.T) {
	ts := ftptest.NewServer(t)
	ts.WriteFile(t, "f.txt", []byte("hello"))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	if got := c.Want(ftp.CodeFileStatus, "SIZE f.txt"); got != "5" {
		t.Fatalf("SIZE %q", got)
	}
	c.Want(ftp.CodeFileActionDenied, "SIZE missing")
	c.Want(ftp.CodeFileStatus, "MFMT 20200102030405 f.txt")
	if got := c.Want(ftp.CodeFileStatus, "MDTM f.txt"); got != "20200102030405" {
		t.Fatalf("MDTM %q", got)
	}
	c.Want(ftp.CodeFilePending, "RNFR f.txt")
	c.Want(ftp.CodeFileActionOK, "RNTO g.txt")
	c.Want(ftp.CodeFilePending, "RNFR g.txt")
	c.Want(ftp.CodeOK, "NOOP")
	c.Want(ftp.CodeBadSequence, "RNTO h.txt") // RNFR must come right before
	c.Want(ftp.CodeOK, "SITE CHMOD 600 g.txt")
	if st, err := os.Stat(filepath.Join(ts.Root, "g.txt")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("chmod: %v %v", st.Mode(), err)
	}
	c.Want(ftp.CodeFileActionOK, "DELE g.txt")
	c.Want(ftp.CodeFileActionDenied, "DELE g.txt")
	if got := c.Want(ftp.CodeSystemStatus, "STAT"); !strings.Contains(got, "Logged in as alice") {
		t.Fatalf("STAT %q", got)
	}
}

func TestReadOnlyUser(t *testing.T) {
	ts := ftptest.NewServer(t)
	ts.WriteFile(t, "f.txt", []byte("hello"))
	c := ts.Dial(t)
	c.Login(ftptest.ReadOnlyUser, ftptest.Password)
	c.Want(ftp.CodeFileActionDenied, "DELE f.txt")
	c.Want(ftp.CodeFileActionDenied, "MKD d")
	c.Want(ftp.CodeFileActionDenied, "RNFR f.txt")
	c.Want(ftp.CodeFileActionDenied, "STOR new.txt")
	c.Want(ftp.CodeFileActionDenied, "SITE CHMOD 777 f.txt")
	if got := string(ts.ReadFile(t, "f.txt")); got != "hello" {
		t.Fatal(got)
	}
}

func TestRetrStorEveryMode(t *testing.T) {
	ts := ftptest.NewServer(t)
	data := testenv.RandomBytes(3<<20 + 17)
	for _, mode := range []string{"EPSV", "PASV", "PORT", "EPRT"} {
		t.Run(mode, func(t *testing.T) {
			c := ts.Dial(t)
			c.Login(ftptest.User, ftptest.Password)
			name := "up-" + mode
			dc := c.Open(mode, "STOR "+name)
			ftptest.WriteAll(t, dc, data)
			c.Expect(ftp.CodeTransferComplete)
			if sum(ts.ReadFile(t, name)) != sum(data) {
				t.Fatal("uploaded bytes differ")
			}
			dc = c.Open(mode, "RETR "+name)
			if got := ftptest.ReadAll(t, dc); sum(got) != sum(data) {
				t.Fatalf("downloaded %d bytes, differ", len(got))
			}
			c.Expect(ftp.CodeTransferComplete)
		})
	}
}

func TestRestartAppendUnique(t *testing.T) {
	ts := ftptest.NewServer(t)
	data := testenv.RandomBytes(100000)
	ts.WriteFile(t, "f", data)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	c.Want(ftp.CodeFilePending, "REST 40000")
	dc := c.Open("EPSV", "RETR f")
	if got := ftptest.ReadAll(t, dc); !bytes.Equal(got, data[40000:]) {
		t.Fatalf("REST download: %d bytes", len(got))
	}
	c.Expect(ftp.CodeTransferComplete)

	// Resume an upload: the first 1000 bytes are there, REST+STOR the rest.
	ts.WriteFile(t, "up", data[:1000])
	c.Want(ftp.CodeFilePending, "REST 1000")
	dc = c.Open("EPSV", "STOR up")
	ftptest.WriteAll(t, dc, data[1000:])
	c.Expect(ftp.CodeTransferComplete)
	if !bytes.Equal(ts.ReadFile(t, "up"), data) {
		t.Fatal("resumed upload differs")
	}

	dc = c.Open("EPSV", "APPE up")
	ftptest.WriteAll(t, dc, []byte("tail"))
	c.Expect(ftp.CodeTransferComplete)
	if got := ts.ReadFile(t, "up"); !bytes.Equal(got, append(append([]byte{}, data...), "tail"...)) {
		t.Fatal("append differs")
	}

	dc = c.EPSV()
	msg := c.Want(ftp.CodeFileStatusOK, "STOU")
	name, ok := strings.CutPrefix(msg, "FILE: ")
	if !ok {
		t.Fatalf("STOU reply %q", msg)
	}
	ftptest.WriteAll(t, dc, []byte("unique"))
	c.Expect(ftp.CodeTransferComplete)
	if got := string(ts.ReadFile(t, name)); got != "unique" {
		t.Fatalf("STOU file %q", got)
	}
	c.Want(ftp.CodeFilePending, "REST 999999999")
	c.EPSV()
	c.Want(ftp.CodeInvalidRestart, "RETR f")
}

func TestASCIIMode(t *testing.T) {
	ts := ftptest.NewServer(t)
	ts.WriteFile(t, "unix.txt", []byte("a\nb\r\nc\n"))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	c.Want(ftp.CodeOK, "TYPE A")
	dc := c.Open("EPSV", "RETR unix.txt")
	if got := string(ftptest.ReadAll(t, dc)); got != "a\r\nb\r\nc\r\n" {
		t.Fatalf("ASCII download %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
	dc = c.Open("EPSV", "STOR dos.txt")
	ftptest.WriteAll(t, dc, []byte("x\r\ny\rz\r\n\r"))
	c.Expect(ftp.CodeTransferComplete)
	if got := string(ts.ReadFile(t, "dos.txt")); got != "x\ny\rz\n\r" {
		t.Fatalf("ASCII upload stored %q", got)
	}
	c.Want(ftp.CodeOK, "TYPE I")
	dc = c.Open("EPSV", "RETR unix.txt")
	if got := string(ftptest.ReadAll(t, dc)); got != "a\nb\r\nc\n" {
		t.Fatalf("binary download %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
}

func TestListings(t *testing.T) {
	ts := ftptest.NewServer(t)
	ts.WriteFile(t, "dir/one.txt", []byte("1"))
	ts.WriteFile(t, "dir/two words.txt", []byte("22"))
	ts.WriteFile(t, "dir/.hidden", []byte("h"))
	ts.WriteFile(t, "dir/.ferry-upload-abc", []byte("partial"))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)

	list := func(command string) string {
		dc := c.Open("EPSV", command)
		out := string(ftptest.ReadAll(t, dc))
		c.Expect(ftp.CodeTransferComplete)
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
	got := c.Want(ftp.CodeFileActionOK, "MLST dir/one.txt")
	if !strings.Contains(got, "type=file;size=1;") || !strings.Contains(got, " /dir/one.txt") {
		t.Fatalf("MLST %q", got)
	}
	c.Want(ftp.CodeOK, "OPTS MLST size;")
	if got := c.Want(ftp.CodeFileActionOK, "MLST dir/one.txt"); !strings.Contains(got, " size=1; /dir/one.txt") {
		t.Fatalf("MLST with size only %q", got)
	}
	c.EPSV()
	c.Want(ftp.CodeFileActionDenied, "MLSD dir/one.txt")
	got = c.Want(ftp.CodeFileStatus, "STAT dir")
	if !strings.Contains(got, "one.txt") {
		t.Fatalf("STAT dir %q", got)
	}
}

func TestFeatAndHelp(t *testing.T) {
	ts := ftptest.NewServer(t)
	c := ts.Dial(t)
	feat := c.Want(ftp.CodeSystemStatus, "FEAT")
	for _, f := range []string{"EPSV", "EPRT", "MLST type*;", "SIZE", "MDTM", "REST STREAM", "UTF8", "HASH SHA-256*"} {
		if !strings.Contains(feat, "\n "+f) {
			t.Errorf("FEAT lacks %q:\n%s", f, feat)
		}
	}
	c.Want(ftp.CodeHelp, "HELP")
	c.Want(ftp.CodeHelp, "HELP RETR")
	c.Want(ftp.CodeSystemType, "SYST")
	c.Want(ftp.CodeOK, "OPTS UTF8 ON")
}

func TestHash(t *testing.T) {
	ts := ftptest.NewServer(t)
	data := []byte("The quick brown fox jumps over the lazy dog")
	ts.WriteFile(t, "fox", data)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	// The range's end is the last byte hashed (draft-bryan-ftpext-hash 3.4).
	want := fmt.Sprintf("SHA-256 0-%d %x fox", len(data)-1, sum(data))
	if got := c.Want(ftp.CodeFileStatus, "HASH fox"); got != want {
		t.Fatalf("HASH %q, want %q", got, want)
	}
	c.Want(ftp.CodeOK, "OPTS HASH MD5")
	if got := c.Want(ftp.CodeFileStatus, "HASH fox"); got != "MD5 0-42 9e107d9d372bb6826bd81d3542a419d6 fox" {
		t.Fatalf("HASH MD5 %q", got)
	}
	c.Want(ftp.CodeFilePending, "RANG 4 8")
	if got := c.Want(ftp.CodeFileStatus, "HASH fox"); !strings.HasPrefix(got, "MD5 4-8 ") {
		t.Fatalf("HASH range %q", got)
	}
}

// RETR follows a link that stays inside the user's root, as vsftpd and
// ProFTPD do, and announces the size of the file it opened; a link out
// of the root, a directory and a missing file are refused with 550.
// SIZE and MDTM answer for the same file RETR would send.
func TestRetrSymlinks(t *testing.T) {
	ts := ftptest.NewServer(t)
	data := testenv.RandomBytes(5000)
	ts.WriteFile(t, "d/real", data)
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"in": "d/real", "out": outside, "dirlink": "d"} {
		if err := os.Symlink(target, filepath.Join(ts.Root, link)); err != nil {
			t.Fatal(err)
		}
	}
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	c.Want(ftp.CodeOK, "TYPE I")
	dc := c.EPSV()
	msg := c.Want(ftp.CodeFileStatusOK, "RETR in")
	if !strings.Contains(msg, "(5000 bytes)") {
		t.Fatalf("150 reply %q does not announce the target's 5000 bytes", msg)
	}
	if got := ftptest.ReadAll(t, dc); !bytes.Equal(got, data) {
		t.Fatalf("RETR through a link: %d bytes, want %d", len(got), len(data))
	}
	c.Expect(ftp.CodeTransferComplete)
	c.Want(ftp.CodeFilePending, "REST 4000")
	dc = c.EPSV()
	c.Want(ftp.CodeFileStatusOK, "RETR dirlink/real")
	if got := ftptest.ReadAll(t, dc); !bytes.Equal(got, data[4000:]) {
		t.Fatalf("RETR with REST through a directory link: %d bytes, want 1000", len(got))
	}
	c.Expect(ftp.CodeTransferComplete)
	for _, name := range []string{"out", "d", "dirlink", "missing"} {
		c.EPSV()
		c.Want(ftp.CodeFileActionDenied, "RETR "+name)
	}
	// SIZE and MDTM describe what the link leads to, as RETR sends it.
	if got := c.Want(ftp.CodeFileStatus, "SIZE in"); got != "5000" {
		t.Fatalf("SIZE of a link to a 5000-byte file: %q", got)
	}
	c.Want(ftp.CodeFileStatus, "MDTM in")
	for _, name := range []string{"out", "dirlink"} {
		c.Want(ftp.CodeFileActionDenied, "SIZE "+name)
	}
}
