package cli

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/peertest"
	"github.com/ferry-ftp/ferry/server"
)

// TestTransferModes puts, lists, gets and cats a file in every data
// connection mode, checking the transcript shows the mode's commands.
func TestTransferModes(t *testing.T) {
	srv := startFTP(t, false)
	data := randomData(t, 300<<10)
	src := filepath.Join(t.TempDir(), "up.bin")
	writeFile(t, src, string(data))
	for _, tt := range []struct{ mode, cmd string }{
		{"passive", "---> EPSV"},
		{"active", "---> EPRT"},
		{"auto", "---> EPSV"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			name := "f-" + tt.mode + ".bin"
			code, out, errOut := ferry(t, "put", "--mode", tt.mode, "--debug", src, srv.url(name))
			if code != 0 || !strings.Contains(errOut, tt.cmd) || !strings.Contains(errOut, "---> STOR "+name) {
				t.Fatalf("put: exit %d\n%s\n%s", code, out, errOut)
			}
			if !strings.Contains(out, name+"  300 KiB") {
				t.Errorf("put: no progress line in %q", out)
			}
			sameFile(t, filepath.Join(srv.root, name), data)

			out = mustFerry(t, "ls", "--mode", tt.mode, srv.url(""))
			if !strings.Contains(out, name+"\n") {
				t.Errorf("ls: %q", out)
			}
			out = mustFerry(t, "ls", "-l", "--mode", tt.mode, srv.url(""))
			if !strings.Contains(out, fmt.Sprintf("%12d", len(data))) || !strings.Contains(out, "-rw") {
				t.Errorf("ls -l: %q", out)
			}
			dest := filepath.Join(t.TempDir(), "down.bin")
			mustFerry(t, "get", "--mode", tt.mode, srv.url(name), dest)
			sameFile(t, dest, data)
			if out := mustFerry(t, "cat", "--mode", tt.mode, srv.url(name)); out != string(data) {
				t.Errorf("cat: %d bytes", len(out))
			}
		})
	}
}

// TestGetDest covers where get puts a file: a named file, into an
// existing directory, and the current directory's remote name.
func TestGetDest(t *testing.T) {
	srv := startFTP(t, false)
	writeFile(t, filepath.Join(srv.root, "a.txt"), "AAA")
	dir := t.TempDir()
	mustFerry(t, "get", "-q", srv.url("a.txt"), dir)
	sameFile(t, filepath.Join(dir, "a.txt"), []byte("AAA"))
	t.Chdir(dir)
	os.Remove("a.txt")
	if out := mustFerry(t, "get", "-q", srv.url("a.txt")); out != "" {
		t.Errorf("-q printed %q", out)
	}
	sameFile(t, filepath.Join(dir, "a.txt"), []byte("AAA"))
	// The local mtime is the server's MDTM.
	want := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	os.Chtimes(filepath.Join(srv.root, "a.txt"), want, want)
	mustFerry(t, "get", srv.url("a.txt"), "b.txt")
	if fi, err := os.Stat("b.txt"); err != nil || !fi.ModTime().Equal(want) {
		t.Errorf("mtime after get: %v %v", fi.ModTime(), err)
	}
}

func TestTLS(t *testing.T) {
	srv := startFTP(t, true)
	data := randomData(t, 100<<10)
	src := filepath.Join(t.TempDir(), "s.bin")
	writeFile(t, src, string(data))

	// Explicit: AUTH TLS, certificate checked against --ca-file.
	code, _, errOut := ferry(t, "put", "--tls", "--ca-file", srv.caFile, "--debug", src, srv.url("e.bin"))
	if code != 0 || !strings.Contains(errOut, "---> AUTH TLS") || !strings.Contains(errOut, "---> PROT P") {
		t.Fatalf("explicit put: exit %d\n%s", code, errOut)
	}
	sameFile(t, filepath.Join(srv.root, "e.bin"), data)
	dest := filepath.Join(t.TempDir(), "e.bin")
	mustFerry(t, "get", "--tls", "--ca-file", srv.caFile, "--mode", "active", srv.url("e.bin"), dest)
	sameFile(t, dest, data)

	// Implicit: ftps://, with --insecure.
	iurl := fmt.Sprintf("ftps://%s:%s@%s/e.bin", ftpUser, ftpPass, srv.implicit)
	code, out, errOut := ferry(t, "cat", "--insecure", "--debug", iurl)
	if code != 0 || out != string(data) || strings.Contains(errOut, "---> AUTH") || !strings.Contains(errOut, "---> PROT P") {
		t.Errorf("implicit cat: exit %d, %d bytes\n%s", code, len(out), errOut)
	}

	// An untrusted certificate: exit 3 and a hint.
	code, _, errOut = ferry(t, "ls", "--tls", srv.url(""))
	if code != exitConnection || !strings.Contains(errOut, "--ca-file") {
		t.Errorf("untrusted: exit %d, %s", code, errOut)
	}
}

// TestResume continues a partial download and a partial upload.
func TestResume(t *testing.T) {
	srv := startFTP(t, false)
	data := randomData(t, 1<<20)
	const half = 400_000

	// Download: the local file holds the first part.
	writeFile(t, filepath.Join(srv.root, "big.bin"), string(data))
	dest := filepath.Join(t.TempDir(), "big.bin")
	writeFile(t, dest, string(data[:half]))
	code, out, errOut := ferry(t, "get", "-c", "--debug", "--verify", srv.url("big.bin"), dest)
	if code != 0 || !strings.Contains(errOut, "---> REST "+strconv.Itoa(half)) || !strings.Contains(out, "resumed at") {
		t.Fatalf("get -c: exit %d\n%s\n%s", code, out, errOut)
	}
	sameFile(t, dest, data)
	// Complete already: nothing is transferred.
	code, _, errOut = ferry(t, "get", "-c", "--debug", srv.url("big.bin"), dest)
	if code != 0 || strings.Contains(errOut, "RETR") {
		t.Errorf("get -c of a complete file: exit %d\n%s", code, errOut)
	}

	// Upload: the server's file holds the first part.
	src := filepath.Join(t.TempDir(), "up.bin")
	writeFile(t, src, string(data))
	writeFile(t, filepath.Join(srv.root, "up.bin"), string(data[:half]))
	code, _, errOut = ferry(t, "put", "-c", "--debug", "--verify", src, srv.url("up.bin"))
	if code != 0 || !strings.Contains(errOut, "---> REST "+strconv.Itoa(half)) || !strings.Contains(errOut, "---> HASH up.bin") {
		t.Fatalf("put -c: exit %d\n%s", code, errOut)
	}
	sameFile(t, filepath.Join(srv.root, "up.bin"), data)

	// Without -c the file is replaced from the start.
	writeFile(t, dest, "junk that is longer than nothing")
	code, _, errOut = ferry(t, "get", "--debug", srv.url("big.bin"), dest)
	if code != 0 || strings.Contains(errOut, "---> REST") {
		t.Errorf("get without -c: exit %d\n%s", code, errOut)
	}
	sameFile(t, dest, data)
}

// fakeVerifyServer is a scripted server whose file is "hello" but whose
// HASH (or SIZE) reports something else, to prove --verify catches it.
func fakeVerifyServer(t *testing.T, badHash bool) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go fakeSession(c, badHash)
		}
	}()
	return l.Addr().String()
}

func fakeSession(c net.Conn, badHash bool) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	const body = "hello"
	w := func(s string) { fmt.Fprintf(c, "%s\r\n", s) }
	w("220 fake")
	r := bufio.NewReader(c)
	var data net.Listener
	defer func() {
		if data != nil {
			data.Close()
		}
	}()
	for i := 0; i < 100; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(verb) {
		case "USER":
			w("331 password")
		case "PASS":
			w("230 in")
		case "FEAT":
			w("211-Features:\r\n SIZE\r\n HASH SHA-256*\r\n211 End")
		case "TYPE", "OPTS":
			w("200 ok")
		case "SIZE":
			if badHash {
				w("213 5")
			} else {
				w("213 6")
			}
		case "MDTM":
			w("502 no")
		case "HASH":
			w("213 SHA-256 0-5 0000000000000000000000000000000000000000000000000000000000000000 f")
		case "EPSV":
			if data, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
				w("425 no")
				continue
			}
			w(fmt.Sprintf("229 Entering Extended Passive Mode (|||%d|)", data.Addr().(*net.TCPAddr).Port))
		case "RETR":
			w("150 here")
			dc, err := data.Accept()
			if err != nil {
				return
			}
			dc.Write([]byte(body))
			dc.Close()
			w("226 done")
		case "QUIT":
			w("221 bye")
			return
		default:
			w("502 not here")
		}
	}
}

func TestVerifyMismatch(t *testing.T) {
	for _, badHash := range []bool{true, false} {
		addr := fakeVerifyServer(t, badHash)
		dest := filepath.Join(t.TempDir(), "f")
		code, _, errOut := ferry(t, "get", "--verify", "ftp://u:p@"+addr+"/f", dest)
		if code != exitVerify || !strings.Contains(errOut, "verification failed") {
			t.Errorf("badHash %v: exit %d, %s", badHash, code, errOut)
		}
		sameFile(t, dest, []byte("hello"))
		// Without --verify the same transfer succeeds.
		if code, _, errOut := ferry(t, "get", "ftp://u:p@"+addr+"/f", dest); code != 0 {
			t.Errorf("no --verify: exit %d, %s", code, errOut)
		}
	}
}

// TestAutoFallback breaks passive mode (the server announces ports
// where nothing listens) and checks the passive failure's exit code
// and hint, and that auto mode falls back to active.
func TestAutoFallback(t *testing.T) {
	srv := startFTP(t, false, func(c *server.Config) {
		lo, _ := peertest.FreePortRange(t, 16)
		c.PassivePortMap = ftp.PortMap{From: c.PassivePorts, To: uint16(lo)}
	})
	writeFile(t, filepath.Join(srv.root, "f.txt"), "fallback")
	code, _, errOut := ferry(t, "cat", srv.url("f.txt"))
	if code != exitTransfer || !strings.Contains(errOut, "try --mode active or ferry doctor URL") {
		t.Errorf("passive: exit %d, %s", code, errOut)
	}
	code, out, errOut := ferry(t, "cat", "--mode", "auto", "--debug", srv.url("f.txt"))
	if code != 0 || out != "fallback" || !strings.Contains(errOut, "---> EPRT") {
		t.Errorf("auto: exit %d, %q\n%s", code, out, errOut)
	}
	// Without --debug the switch is told once.
	code, out, errOut = ferry(t, "cat", "--mode", "auto", srv.url("f.txt"), srv.url("f.txt"))
	if code != 0 || out != "fallbackfallback" || strings.Count(errOut, "switched to active") != 1 {
		t.Errorf("auto without --debug: exit %d, %q\n%s", code, out, errOut)
	}
}
