package interop_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
)

// TestTnftp drives the classic BSD command-line client with a script, as
// in the active/passive explanation of the seed material, and checks the
// debug transcript shows the same dialogue: PORT naming the client's
// address and port in active mode, PASV answered with 227 naming the
// server's in passive mode, and the password masked.
func TestTnftp(t *testing.T) {
	tnftp := testenv.Tool(t, "tnftp")
	e := startServer(t, options{})
	data := writeRandom(t, filepath.Join(e.root, "remote.bin"), 256<<10+5)
	up := writeRandom(t, filepath.Join(e.work, "local.bin"), 128<<10+9)

	hostPort := `127,0,0,1,(\d+),(\d+)`
	for _, tc := range []struct {
		name  string
		modes []string // tnftp commands selecting the mode
		wire  []*regexp.Regexp
	}{
		{"active-PORT", []string{"passive off", "epsv4 off"}, []*regexp.Regexp{
			regexp.MustCompile(`(?m)^---> PORT ` + hostPort + `\r?\n200 PORT command successful`),
		}},
		{"passive-PASV", []string{"passive on", "epsv4 off"}, []*regexp.Regexp{
			regexp.MustCompile(`(?m)^---> PASV\r?\n227 Entering Passive Mode \(` + hostPort + `\)`),
		}},
		{"passive-EPSV", []string{"passive on", "epsv4 on"}, []*regexp.Regexp{
			regexp.MustCompile(`(?m)^---> EPSV\r?\n229 Entering Extended Passive Mode \(\|\|\|(\d+)\|\)`),
		}},
		{"active-EPRT", []string{"passive off", "epsv4 on"}, []*regexp.Regexp{
			regexp.MustCompile(`(?m)^---> EPRT \|1\|127\.0\.0\.1\|(\d+)\|\r?\n200 EPRT command successful`),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := filepath.Join(e.work, tc.name+".got")
			script := []string{
				fmt.Sprintf("open %s %d", e.host, e.port),
				fmt.Sprintf("user %s %s", ftptest.User, ftptest.Password),
				"binary",
			}
			script = append(script, tc.modes...)
			script = append(script,
				"ls",
				"get remote.bin "+got,
				"put local.bin up-"+tc.name+".bin",
				"quit")
			out := e.mustRun("", strings.Join(script, "\n")+"\n", tnftp, "-n", "-v", "-d")
			mustContain(t, "tnftp transcript", out,
				"---> USER "+ftptest.User, "---> PASS XXXX", "230 ",
				// As in the seed: SYST makes the client pick binary mode.
				"---> SYST", "215 UNIX Type: L8", "Remote system type is UNIX.", "Using binary mode to transfer files.",
				"---> LIST", "remote.bin",
				"---> RETR remote.bin", "---> STOR up-"+tc.name+".bin", "226 ", "---> QUIT", "221 ")
			if strings.Contains(out, ftptest.Password) {
				t.Errorf("tnftp transcript shows the password:\n%s", out)
			}
			for _, re := range tc.wire {
				// Three data connections (ls, get, put), each set up anew.
				if n := len(re.FindAllString(out, -1)); n != 3 {
					t.Errorf("transcript matches %v %d times, want 3:\n%s", re, n, out)
				}
			}
			sameFile(t, got, data)
			sameFile(t, filepath.Join(e.root, "up-"+tc.name+".bin"), up)
		})
	}
}

// TestTnftpMgetGlob: tnftp's mget sends the pattern to the server (NLST
// *.txt) and fetches each name it gets back, so it needs server-side
// globbing; files that do not match, and dot files, stay behind.
func TestTnftpMgetGlob(t *testing.T) {
	tnftp := testenv.Tool(t, "tnftp")
	e := startServer(t, options{})
	want := map[string][]byte{}
	for _, n := range []string{"a.txt", "b.txt"} {
		want[n] = writeRandom(t, filepath.Join(e.root, "docs", n), 10<<10+len(n))
	}
	writeRandom(t, filepath.Join(e.root, "docs", "c.log"), 100)
	writeRandom(t, filepath.Join(e.root, "docs", ".hidden.txt"), 100)
	dst := t.TempDir()
	script := []string{
		fmt.Sprintf("open %s %d", e.host, e.port),
		fmt.Sprintf("user %s %s", ftptest.User, ftptest.Password),
		"binary", "prompt off", "cd docs", "lcd " + dst,
		"mget *.txt",
		"quit",
	}
	out := e.mustRun("", strings.Join(script, "\n")+"\n", tnftp, "-n", "-v", "-d")
	mustContain(t, "tnftp mget transcript", out, "---> NLST *.txt", "---> RETR a.txt", "---> RETR b.txt")
	for n, data := range want {
		sameFile(t, filepath.Join(dst, n), data)
	}
	for _, n := range []string{"c.log", ".hidden.txt"} {
		if _, err := os.Stat(filepath.Join(dst, n)); !os.IsNotExist(err) {
			t.Errorf("mget *.txt fetched %s: %v", n, err)
		}
	}
}
