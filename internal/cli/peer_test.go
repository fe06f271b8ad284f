package cli

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/internal/peertest"
)

// TestVsftpd runs ls, get, put and mirror against vsftpd, which has
// no MLSD (LIST is parsed) and no MFMT (MDTM with two arguments).
func TestVsftpd(t *testing.T) {
	p := peertest.Vsftpd(t, peertest.Options{})
	u := func(path string) string {
		return fmt.Sprintf("ftp://%s:%s@%s/%s", url.PathEscape(p.User), url.QueryEscape(p.Password), p.Addr, path)
	}
	data := randomData(t, 200<<10)
	p.WriteFile(t, "pub/big.bin", data)
	p.WriteFile(t, "pub/small.txt", []byte("small"))

	for _, mode := range []string{"passive", "active"} {
		out := mustFerry(t, "ls", "--mode", mode, u("pub"))
		if out != "big.bin\nsmall.txt\n" {
			t.Errorf("ls %s: %q", mode, out)
		}
		dest := filepath.Join(t.TempDir(), "big.bin")
		mustFerry(t, "get", "--mode", mode, "--verify", u("pub/big.bin"), dest)
		sameFile(t, dest, data)
	}
	out := mustFerry(t, "ls", "-l", u("pub"))
	if !strings.Contains(out, fmt.Sprintf("%12d", len(data))) {
		t.Errorf("ls -l: %q", out)
	}

	// put, then resume a partial download.
	src := filepath.Join(t.TempDir(), "up.bin")
	writeFile(t, src, string(data))
	mustFerry(t, "put", "--verify", src, u("up.bin"))
	sameFile(t, filepath.Join(p.Root, "up.bin"), data)
	part := filepath.Join(t.TempDir(), "part.bin")
	writeFile(t, part, string(data[:12345]))
	code, _, errOut := ferry(t, "get", "-c", "--debug", u("up.bin"), part)
	if code != 0 || !strings.Contains(errOut, "---> REST 12345") {
		t.Fatalf("get -c: exit %d\n%s", code, errOut)
	}
	sameFile(t, part, data)

	// mirror up and down, twice each: the second runs transfer nothing.
	tree := t.TempDir()
	makeTree(t, tree, mirrorFiles)
	out = mustFerry(t, "mirror", "-j", "2", tree, u("site"))
	if n := transferred(out); n != 4 {
		t.Errorf("mirror up: %d transfers\n%s", n, out)
	}
	checkTree(t, filepath.Join(p.Root, "site"), mirrorFiles)
	out = mustFerry(t, "mirror", tree, u("site"))
	if n := transferred(out); n != 0 {
		t.Errorf("second mirror up: %d transfers\n%s", n, out)
	}
	down := filepath.Join(t.TempDir(), "down")
	out = mustFerry(t, "mirror", u("site"), down)
	if n := transferred(out); n != 4 {
		t.Errorf("mirror down: %d transfers\n%s", n, out)
	}
	checkTree(t, down, mirrorFiles)
	out = mustFerry(t, "mirror", u("site"), down)
	if n := transferred(out); n != 0 {
		t.Errorf("second mirror down: %d transfers\n%s", n, out)
	}
}
