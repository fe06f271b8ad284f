package interop_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
)

// TestWget downloads one file and a small tree recursively, passive and
// active; wget -r parses ferry's LIST output to find the tree.
func TestWget(t *testing.T) {
	wget := testenv.Tool(t, "wget")
	e := startServer(t, options{})
	data := writeRandom(t, filepath.Join(e.root, "single.bin"), 1<<20+1)
	tree := filepath.Join(e.root, "tree")
	// Sizes 0, 1000, ... bytes: a.txt is empty.
	for i, name := range []string{"a.txt", "sub/b.bin", "sub/deeper/c.bin", "sub/d.bin", "with space.txt"} {
		writeRandom(t, filepath.Join(tree, name), i*1000)
	}
	for _, tc := range []struct {
		name  string
		flags []string
		wire  string
	}{
		{"passive", nil, "--> PASV"},
		{"active", []string{"--no-passive-ftp"}, "--> PORT 127,0,0,1,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := []string{"-d", "--tries=1", "--timeout=20", "--user=" + ftptest.User, "--password=" + ftptest.Password}
			base = append(base, tc.flags...)
			dst := filepath.Join(e.work, tc.name+".bin")
			out := e.mustRun("", "", wget, append(base, "-O", dst, "ftp://"+e.addr()+"/single.bin")...)
			mustContain(t, "wget transcript", out, tc.wire, "--> RETR single.bin", "226 ")
			sameFile(t, dst, data)

			into := filepath.Join(e.work, tc.name+"-tree")
			out = e.mustRun("", "", wget, append(base, "-r", "-nH", "--cut-dirs=1", "-P", into,
				"ftp://"+e.addr()+"/tree/")...)
			mustContain(t, "wget -r transcript", out, "--> LIST")
			sameTree(t, into, tree)
		})
	}
}

// TestWgetFTPS downloads over explicit (AUTH TLS) and implicit FTPS with
// protected data connections, and with a clear data connection.
func TestWgetFTPS(t *testing.T) {
	wget := testenv.Tool(t, "wget")
	e := startServer(t, options{tls: true})
	data := writeRandom(t, filepath.Join(e.root, "secret.bin"), 700_001)
	for _, tc := range []struct {
		name  string
		port  int
		flags []string
		wire  []string
	}{
		{"explicit", e.port, nil, []string{"--> AUTH TLS", "--> PROT P"}},
		{"explicit-clear-data", e.port, []string{"--ftps-clear-data-connection"}, []string{"--> AUTH TLS", "--> PROT C"}},
		{"implicit", e.tlsPort, []string{"--ftps-implicit"}, []string{"--> PROT P"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(e.work, tc.name)
			args := append([]string{"-d", "--tries=1", "--timeout=20", "--no-check-certificate",
				"--user=" + ftptest.User, "--password=" + ftptest.Password, "-O", dst}, tc.flags...)
			out := e.mustRun("", "", wget, append(args, fmt.Sprintf("ftps://%s:%d/secret.bin", e.host, tc.port))...)
			mustContain(t, "wget transcript", out, append(tc.wire, "--> RETR secret.bin", "226 ")...)
			sameFile(t, dst, data)
		})
	}
}
