package server_test

import (
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/server"
)

// Transcript tests for the wire review's findings (issue #11): each
// failed before its fix.

func TestASCIIRestartRefused(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.AtomicUploads = false })
	ts.WriteFile(t, "f", []byte("line1\nline2\nline3\n"))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	c.Want(ftp.CodeOK, "TYPE A")
	c.Want(ftp.CodeFilePending, "REST 7")
	c.Want(ftp.CodeExtendedPassive, "EPSV")
	if msg := c.Want(ftp.CodeFileActionDenied, "RETR f"); !strings.Contains(msg, "ASCII") {
		t.Errorf("REST+RETR in TYPE A: %q", msg)
	}
	c.Want(ftp.CodeFilePending, "REST 7")
	c.Want(ftp.CodeFileActionDenied, "STOR f")
	// The 150 of an ASCII download makes no claim of a byte count, and
	// the bytes are the converted ones.
	dc := c.EPSV()
	if msg := c.Want(ftp.CodeFileStatusOK, "RETR f"); strings.Contains(msg, "bytes") {
		t.Errorf("ASCII 150 claims a size: %q", msg)
	}
	if got := string(ftptest.ReadAll(t, dc)); got != "line1\r\nline2\r\nline3\r\n" {
		t.Errorf("ASCII RETR: %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
	// SIZE says what RETR sends in each TYPE.
	if got := c.Want(ftp.CodeFileStatus, "SIZE f"); got != "21" {
		t.Errorf("SIZE in TYPE A: %q, want 21", got)
	}
	c.Want(ftp.CodeOK, "TYPE I")
	if got := c.Want(ftp.CodeFileStatus, "SIZE f"); got != "18" {
		t.Errorf("SIZE in TYPE I: %q, want 18", got)
	}
}

// The default TYPE is binary, and STAT says so: what RETR does.
func TestDefaultTypeIsBinaryAndStatSaysSo(t *testing.T) {
	ts := ftptest.NewServer(t)
	ts.WriteFile(t, "f", []byte("a\nb\n"))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	if msg := c.Want(ftp.CodeSystemStatus, "STAT"); !strings.Contains(msg, "TYPE: BINARY") {
		t.Errorf("STAT before TYPE: %q", msg)
	}
	if got := string(ftptest.ReadAll(t, c.Open("EPSV", "RETR f"))); got != "a\nb\n" {
		t.Errorf("RETR before TYPE sent %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
}

func TestRangeAndHash(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.AtomicUploads = false })
	data := []byte("0123456789abcdefghij")
	ts.WriteFile(t, "f", data)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	// RETR honours RANG's end point (inclusive).
	c.Want(ftp.CodeFilePending, "RANG 5 9")
	if got := string(ftptest.ReadAll(t, c.Open("EPSV", "RETR f"))); got != "56789" {
		t.Errorf("RETR after RANG 5 9: %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
	// RANG 1 0 resets: the whole file again.
	c.Want(ftp.CodeFilePending, "RANG 5 9")
	c.Want(ftp.CodeFilePending, "RANG 1 0")
	if got := c.Want(ftp.CodeFileStatus, "HASH f"); !strings.HasPrefix(got, "SHA-256 0-19 ") {
		t.Errorf("HASH after RANG 1 0: %q", got)
	}
	// STOR after RANG writes the range in place, keeping the rest.
	c.Want(ftp.CodeFilePending, "RANG 2 4")
	ftptest.WriteAll(t, c.Open("EPSV", "STOR f"), []byte("XYZ"))
	c.Expect(ftp.CodeTransferComplete)
	if got := string(ts.ReadFile(t, "f")); got != "01XYZ56789abcdefghij" {
		t.Errorf("after a ranged STOR: %q", got)
	}
	// More than the range is refused past its end point.
	c.Want(ftp.CodeFilePending, "RANG 0 1")
	ftptest.WriteAll(t, c.Open("EPSV", "STOR f"), []byte("toolong"))
	c.Expect(ftp.CodeExceededStorage)
	if got := string(ts.ReadFile(t, "f")); got != "toXYZ56789abcdefghij" {
		t.Errorf("after an overlong ranged STOR: %q", got)
	}
	// CRC32, and REIN resets the algorithm.
	c.Want(ftp.CodeOK, "OPTS HASH CRC32")
	want := strconv.FormatUint(uint64(crc32.ChecksumIEEE(ts.ReadFile(t, "f"))), 16)
	if got := c.Want(ftp.CodeFileStatus, "HASH f"); !strings.Contains(got, "CRC32 0-19 ") || !strings.Contains(got, want) {
		t.Errorf("HASH CRC32: %q, want %s", got, want)
	}
	c.Want(ftp.CodeServiceReady, "REIN")
	c.Login(ftptest.User, ftptest.Password)
	if got := c.Want(ftp.CodeFileStatus, "HASH f"); !strings.HasPrefix(got, "SHA-256 ") {
		t.Errorf("HASH after REIN: %q", got)
	}
	c.Want(ftp.CodePathCreated, "MKD d")
	c.Want(ftp.CodeBadFileName, "HASH d")
}

func TestRangedStorRefusedWhenAtomic(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.AtomicUploads = true })
	ts.WriteFile(t, "f", []byte("0123456789"))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	c.Want(ftp.CodeFilePending, "RANG 2 4")
	c.Want(ftp.CodeNotImplParam, "STOR f")
}

// A digest that takes a while sends keep-alive lines: the reply is a
// multi-line 213 ending in the digest.
func TestLongHashKeepsAlive(t *testing.T) {
	ts := ftptest.NewServer(t)
	server.SetHashKeepAlive(ts.Server, time.Nanosecond)
	sparseFile(t, ts, "big", 4<<20)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	msg := c.Want(ftp.CodeFileStatus, "HASH big")
	lines := strings.Split(msg, "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "Computing") ||
		!strings.HasPrefix(lines[len(lines)-1], "SHA-256 0-4194303 ") {
		t.Fatalf("long HASH reply %q", msg)
	}
}

func TestLegacyDigests(t *testing.T) {
	ts := ftptest.NewServer(t)
	ts.WriteFile(t, "my file", []byte("The quick brown fox jumps over the lazy dog"))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	for cmd, want := range map[string]string{
		"XMD5 my file":         "9E107D9D372BB6826BD81D3542A419D6",
		"XSHA1 my file":        "2FD4E1C67A2D28FCED849EE1BB76E7391B93EB12",
		"XSHA256 my file":      "D7A8FBB307D7809469CA9ABCB0082E4F8D5651E46D3CDB762D02D0BF37C9E592",
		"XCRC my file":         "414FA339",
		"XMD5 my file 0 3":     "A4704FD35F0308287F2937BA3ECCF5FE", // "The"
		"XSHA512 my file 0 43": "07E547D9586F6A73F73FBAC0435ED76951218FB7D0C8D788A309D785436BBB642E93A252A954F23912547D1E8A3B5ED6E1BFD7097821233FA0538F3DB854FEE6",
	} {
		if got := c.Want(ftp.CodeFileActionOK, cmd); got != want {
			t.Errorf("%s: %q, want %q", cmd, got, want)
		}
	}
	c.Want(ftp.CodeFileActionDenied, "XMD5 missing")
}

func TestSmallConformanceFixes(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.DisableActive = true })
	ts.WriteFile(t, "f", []byte("old"))
	c := ts.Dial(t)
	if msg := c.Want(ftp.CodeNeedPassword, "USER anonymous"); strings.Contains(strings.ToLower(msg), "ok") {
		t.Errorf("USER anonymous promises: %q", msg)
	}
	c.Want(ftp.CodeLoggedIn, "PASS guest@")
	c.Want(ftp.CodeServiceReady, "REIN")
	c.Login(ftptest.User, ftptest.Password)
	c.Want(ftp.CodeNotImplemented, "SMNT /x")
	c.Want(ftp.CodeBadArguments, "CWD")
	c.Want(ftp.CodeBadArguments, "CWD   ")
	c.Want(ftp.CodeOK, "CLNT test client 1.0")
	c.Want(ftp.CodeOK, "LANG")
	c.Want(ftp.CodeOK, "LANG EN")
	c.Want(ftp.CodeNotImplParam, "LANG FR")
	feat := c.Want(ftp.CodeSystemStatus, "FEAT")
	for _, f := range strings.Split(feat, "\n") {
		if f = strings.TrimSpace(f); f == "EPRT" || f == "PORT" {
			t.Errorf("FEAT lists %s with active mode disabled", f)
		}
	}
	if !strings.Contains(feat, "LANG EN*") || !strings.Contains(feat, "AVBL") {
		t.Errorf("FEAT: %q", feat)
	}
	// REST then APPE: the marker is ignored and cleared; APPE appends.
	c.Want(ftp.CodeFilePending, "REST 1")
	ftptest.WriteAll(t, c.Open("EPSV", "APPE f"), []byte("+new"))
	c.Expect(ftp.CodeTransferComplete)
	if got := string(ts.ReadFile(t, "f")); got != "old+new" {
		t.Errorf("REST then APPE: %q", got)
	}
	// MLSD of a file: 550 without the path in the text.
	if msg := c.Want(ftp.CodeFileActionDenied, "MLSD f"); strings.Contains(msg, "f") && strings.Contains(msg, "/f") {
		t.Errorf("MLSD reply names the path: %q", msg)
	}
	// Names longer than a file system allows: permanent refusals.
	long := strings.Repeat("n", 256)
	c.Want(ftp.CodeBadFileName, "MKD "+long)
	c.Want(ftp.CodeFileActionDenied, "SIZE "+long)
	c.Want(ftp.CodeFileActionDenied, "DELE "+long)
	c.Want(ftp.CodeFilePending, "RNFR f")
	c.Want(ftp.CodeBadFileName, "RNTO "+long)
	c.Want(ftp.CodeExtendedPassive, "EPSV")
	c.Want(ftp.CodeBadFileName, "STOR "+long)
}

func TestPBSZNeedsANumber(t *testing.T) {
	ts := ftptest.NewServer(t)
	c := ts.Dial(t)
	c.Want(ftp.CodeBadArguments, "PBSZ x")
	c.Want(ftp.CodeBadSequence, "PBSZ 0") // a number, but no AUTH TLS yet
}

// A link to a directory inside the root is followed by CWD, LIST, MLSD
// and STAT, as a link to a file is by RETR and SIZE.
func TestLinkToDirectoryFollowed(t *testing.T) {
	ts := ftptest.NewServer(t)
	if err := os.Mkdir(filepath.Join(ts.Root, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	ts.WriteFile(t, "real/inside", []byte("x"))
	if err := os.Symlink("real", filepath.Join(ts.Root, "link")); err != nil {
		t.Fatal(err)
	}
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	c.Want(ftp.CodeFileActionOK, "CWD link")
	c.Want(ftp.CodePathCreated, "PWD")
	c.Want(ftp.CodeFileStatus, "SIZE inside")
	c.Want(ftp.CodeFileActionOK, "CWD /")
	for _, cmd := range []string{"LIST link", "NLST link", "MLSD link"} {
		out := string(ftptest.ReadAll(t, c.Open("EPSV", cmd)))
		c.Expect(ftp.CodeTransferComplete)
		if !strings.Contains(out, "inside") {
			t.Errorf("%s: %q", cmd, out)
		}
	}
	if msg := c.Want(ftp.CodeFileStatus, "STAT link"); !strings.Contains(msg, "inside") {
		t.Errorf("STAT link: %q", msg)
	}
}

// "--" ends LIST's options: a directory named -la can be listed.
func TestListDoubleDash(t *testing.T) {
	ts := ftptest.NewServer(t)
	if err := os.Mkdir(filepath.Join(ts.Root, "-la"), 0o755); err != nil {
		t.Fatal(err)
	}
	ts.WriteFile(t, "-la/marker", []byte("x"))
	ts.WriteFile(t, "top", []byte("x"))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	out := string(ftptest.ReadAll(t, c.Open("EPSV", "LIST -- -la")))
	c.Expect(ftp.CodeTransferComplete)
	if !strings.Contains(out, "marker") || strings.Contains(out, "top") {
		t.Errorf("LIST -- -la: %q", out)
	}
}

// A CR in a pathname travels as CR NUL both ways (RFC 2640 3.1): a
// directory named with a CR can be made, entered and reported, and a
// file in it stored and read; listings show the CR as '?', since such a
// name cannot be sent over a data connection as it is (RFC 3659 2.2).
func TestCRInPathnames(t *testing.T) {
	ts := ftptest.NewServer(t)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	raw := func(line string) (int, string) {
		t.Helper()
		if _, err := c.NetConn().Write([]byte(line + "\r\n")); err != nil {
			t.Fatal(err)
		}
		return c.Next()
	}
	if code, _ := raw("MKD cr\r\x00dir"); code != ftp.CodePathCreated {
		t.Fatalf("MKD with CR NUL: %d", code)
	}
	if _, err := os.Stat(filepath.Join(ts.Root, "cr\rdir")); err != nil {
		t.Fatalf("the directory on disk: %v", err)
	}
	if code, _ := raw("CWD cr\r\x00dir"); code != ftp.CodeFileActionOK {
		t.Fatalf("CWD with CR NUL: %d", code)
	}
	// The reply carries the CR as CR NUL: read the raw line.
	if _, err := c.NetConn().Write([]byte("PWD\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := c.Reader().R.ReadString('\n')
	if err != nil || line != "257 \"/cr\r\x00dir\" is the current directory.\r\n" {
		t.Fatalf("PWD reply %q, %v", line, err)
	}
	// A bare CR is still refused: it would end the line.
	if code, _ := raw("CWD cr\rdir"); code != ftp.CodeSyntaxError {
		t.Fatalf("CWD with a bare CR: %d, want 500", code)
	}
	c.Want(ftp.CodeFileActionOK, "CWD /")
	out := string(ftptest.ReadAll(t, c.Open("EPSV", "NLST")))
	c.Expect(ftp.CodeTransferComplete)
	if !strings.Contains(out, "cr?dir\r\n") {
		t.Errorf("NLST shows %q, want cr?dir", out)
	}
}

// Names are bytes: one that is not UTF-8 on disk round-trips, and names
// that differ only by Unicode normalisation (NFD "e" + U+0301, as macOS
// clients send, against NFC U+00E9) are different names, as on the disk.
func TestNamesAreBytes(t *testing.T) {
	ts := ftptest.NewServer(t)
	nfd, nfc, latin1 := "cafe\u0301", "caf\u00e9", "caf\xe9"
	ts.WriteFile(t, nfd, []byte("nfd"))
	ts.WriteFile(t, latin1, []byte("latin1"))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	if got := string(ftptest.ReadAll(t, c.Open("EPSV", "RETR "+nfd))); got != "nfd" {
		t.Errorf("RETR of the NFD name: %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
	c.Want(ftp.CodeExtendedPassive, "EPSV")
	c.Want(ftp.CodeFileActionDenied, "RETR "+nfc)
	if got := string(ftptest.ReadAll(t, c.Open("EPSV", "RETR "+latin1))); got != "latin1" {
		t.Errorf("RETR of a name that is not UTF-8: %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
	out := string(ftptest.ReadAll(t, c.Open("EPSV", "NLST")))
	c.Expect(ftp.CodeTransferComplete)
	if !strings.Contains(out, nfd+"\r\n") || !strings.Contains(out, latin1+"\r\n") {
		t.Errorf("NLST %q lacks the names as bytes", out)
	}
}
