package interop_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"time"

	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
)

// lftp runs an lftp script against e: settings first (fail on any error,
// no retries so a failure shows at once), then open, then the commands.
func lftp(t *testing.T, e *ftpEnv, dir string, settings []string, cmds ...string) string {
	t.Helper()
	script := append([]string{
		"set cmd:fail-exit yes",
		"set net:max-retries 1",
		"set net:timeout 20",
		"set net:persist-retries 0",
		"set xfer:clobber on",
		"debug -t 9",
	}, settings...)
	script = append(script, fmt.Sprintf("open -u %s,%s -p %d %s", ftptest.User, ftptest.Password, e.port, e.host))
	script = append(script, cmds...)
	return e.mustRun(dir, "", testenv.Tool(t, "lftp"), "-c", strings.Join(script, "; "))
}

// TestLftpMirror mirrors a tree up and down in each data-connection mode,
// plain and with TLS, and compares every file's checksum.
func TestLftpMirror(t *testing.T) {
	testenv.Tool(t, "lftp")
	// The TLS cases also need the server to send 150 before the data
	// connection's TLS handshake: lftp (GnuTLS) starts the handshake only
	// once 150 has arrived (TestTLSDataHandshakeAfter150).
	for _, tc := range []struct {
		name     string
		tls      bool
		settings []string
		wire     []string // in the debug transcript
	}{
		{"passive", false, []string{"set ftp:ssl-allow no", "set ftp:passive-mode on", "set ftp:prefer-epsv yes"},
			[]string{"---> MLSD", "---> EPSV", "<--- 229 "}},
		{"passive-PASV", false, []string{"set ftp:ssl-allow no", "set ftp:passive-mode on", "set ftp:prefer-epsv no"},
			[]string{"---> PASV", "<--- 227 Entering Passive Mode (127,0,0,1,"}},
		// LIST instead of MLSD (lftp parses ls -l lines), four transfers at once.
		{"passive-LIST-parallel", false, []string{"set ftp:ssl-allow no", "set ftp:use-mlsd off",
			"set mirror:parallel-transfer-count 4"},
			[]string{"---> LIST", "<--- 150 "}},
		{"active", false, []string{"set ftp:ssl-allow no", "set ftp:passive-mode off"},
			[]string{"---> PORT 127,0,0,1,", "<--- 200 PORT command successful"}},
		{"tls-passive", true, []string{"set ftp:ssl-force true", "set ftp:ssl-protect-data true",
			"set ssl:verify-certificate no", "set ftp:passive-mode on"},
			[]string{"---> AUTH TLS", "<--- 234 ", "---> PROT P", "<--- 200 "}},
		{"tls-active", true, []string{"set ftp:ssl-force true", "set ftp:ssl-protect-data true",
			"set ssl:verify-certificate no", "set ftp:passive-mode off"},
			[]string{"---> AUTH TLS", "---> PROT P", "---> PORT 127,0,0,1,"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startServer(t, options{tls: tc.tls, atomic: true})
			src := filepath.Join(e.work, "src")
			makeTree(t, src)
			out := lftp(t, e, e.work, tc.settings, "mirror -R --no-perms src up")
			mustContain(t, "lftp mirror -R transcript", out, tc.wire...)
			mustContain(t, "lftp mirror -R transcript", out, "---> STOR ", "---> MKD ")
			sameTree(t, filepath.Join(e.root, "up"), src)

			out = lftp(t, e, e.work, tc.settings, "mirror --no-perms up down")
			mustContain(t, "lftp mirror transcript", out, tc.wire...)
			mustContain(t, "lftp mirror transcript", out, "---> RETR ")
			sameTree(t, filepath.Join(e.work, "down"), src)
		})
	}
}

// TestLftpSingleFiles checks put, get, resumed get (REST) and rm.
func TestLftpSingleFiles(t *testing.T) {
	testenv.Tool(t, "lftp")
	e := startServer(t, options{})
	data := writeRandom(t, filepath.Join(e.work, "one.bin"), 2<<20+3)
	plain := []string{"set ftp:ssl-allow no"}
	lftp(t, e, e.work, plain, "put one.bin -o remote.bin")
	sameFile(t, filepath.Join(e.root, "remote.bin"), data)

	writeFile(t, filepath.Join(e.work, "partial.bin"), data[:1<<20])
	out := lftp(t, e, e.work, plain, "get -c remote.bin -o partial.bin")
	mustContain(t, "lftp get -c transcript", out, "---> REST 1048576", "<--- 350 ")
	sameFile(t, filepath.Join(e.work, "partial.bin"), data)

	// pget fetches ranges over up to four sessions, each starting with
	// REST; on loopback the first session may finish before the others
	// begin, so only the result is checked, not how many ranges were used.
	lftp(t, e, e.work, append(plain, "set pget:min-chunk-size 64k"), "pget -n 4 remote.bin -o pget.bin")
	sameFile(t, filepath.Join(e.work, "pget.bin"), data)

	// A resumed upload: REST, then STOR of the rest.
	writeFile(t, filepath.Join(e.root, "resumed.bin"), data[:700_000])
	out = lftp(t, e, e.work, plain, "put -c one.bin -o resumed.bin")
	mustContain(t, "lftp put -c transcript", out, "---> REST 700000", "<--- 350 ", "---> STOR resumed.bin")
	sameFile(t, filepath.Join(e.root, "resumed.bin"), data)

	out = lftp(t, e, e.work, plain, "rm remote.bin", "cls -1")
	mustContain(t, "lftp rm transcript", out, "---> DELE remote.bin", "<--- 250 ")
	if strings.Contains(out, "\nremote.bin") {
		t.Fatalf("remote.bin still listed:\n%s", out)
	}
}

// TestTLSDataHandshakeAfter150 checks the order lftp and other GnuTLS
// and OpenSSL clients rely on under PROT P: the server answers the
// transfer command with 150 as soon as the data connection's TCP
// connection exists, and only then takes the TLS handshake (as vsftpd,
// ProFTPD and Pure-FTPd do). A client that waits for 150 before its
// ClientHello would otherwise wait for the server, and the server for it.
//
// This failed before commit 31a1c71; lftp, ftplib and jlaffaye/ftp then
// stalled on every PROT P transfer.
func TestTLSDataHandshakeAfter150(t *testing.T) {
	e := startServer(t, options{tls: true})
	writeFile(t, filepath.Join(e.root, "f"), []byte("protected"))
	cfg := &tls.Config{InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	c := ftptest.Dial(t, e.addr())
	c.AuthTLS(cfg)
	c.Login(ftptest.User, ftptest.Password)
	c.Want(200, "PBSZ 0")
	c.Want(200, "PROT P")
	data, _ := c.PASV()
	c.Send("RETR f")
	// No handshake yet: the 150 must come anyway. The deadline only bounds
	// the failure; DataConnectTimeout (30 s) is what the server would wait.
	_ = c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	code, msg, err := c.Reader().ReadResponse(0)
	if err != nil {
		t.Fatalf("no reply to RETR while the data connection waits for the client's TLS handshake: %v "+
			"(the server must send 150 before the data TLS handshake)", err)
	}
	if code != 150 {
		t.Fatalf("RETR: got %d %s, want 150", code, msg)
	}
	tc := tls.Client(data, cfg)
	_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
	b, err := io.ReadAll(tc)
	if err != nil || string(b) != "protected" {
		t.Fatalf("protected RETR: %q, %v", b, err)
	}
	c.Expect(226)
}

// TestLftpImplicitTLS transfers over an implicit-FTPS listener (ftps://).
func TestLftpImplicitTLS(t *testing.T) {
	lftpPath := testenv.Tool(t, "lftp")
	e := startServer(t, options{tls: true})
	data := writeRandom(t, filepath.Join(e.work, "up.bin"), 1<<20+7)
	script := strings.Join([]string{
		"set cmd:fail-exit yes", "set net:max-retries 1", "set net:timeout 20",
		"set ssl:verify-certificate no", "set ftp:ssl-protect-data true", "debug -t 9",
		fmt.Sprintf("open -u %s,%s ftps://%s:%d", ftptest.User, ftptest.Password, e.host, e.tlsPort),
		"put up.bin -o implicit.bin", "get implicit.bin -o back.bin",
	}, "; ")
	out := e.mustRun("", "", lftpPath, "-c", script)
	mustContain(t, "lftp transcript", out, "---> PROT P", "---> STOR implicit.bin", "---> RETR implicit.bin")
	if strings.Contains(out, "---> AUTH") {
		t.Errorf("lftp sent AUTH on an implicit-TLS connection:\n%s", out)
	}
	sameFile(t, filepath.Join(e.root, "implicit.bin"), data)
	sameFile(t, filepath.Join(e.work, "back.bin"), data)
}

// TestLftpMgetGlob: lftp expands mget's pattern itself, from a listing,
// and still works against server-side globbing.
func TestLftpMgetGlob(t *testing.T) {
	testenv.Tool(t, "lftp")
	e := startServer(t, options{})
	want := map[string][]byte{}
	for _, n := range []string{"a.txt", "b.txt"} {
		want[n] = writeRandom(t, filepath.Join(e.root, "docs", n), 20<<10+len(n))
	}
	writeRandom(t, filepath.Join(e.root, "docs", "c.log"), 100)
	dst := t.TempDir()
	lftp(t, e, dst, []string{"set ftp:ssl-allow no"}, "mget docs/*.txt")
	for n, data := range want {
		sameFile(t, filepath.Join(dst, n), data)
	}
	if _, err := os.Stat(filepath.Join(dst, "c.log")); !os.IsNotExist(err) {
		t.Errorf("mget docs/*.txt fetched c.log: %v", err)
	}
}
