package server

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ferry-ftp/ferry/ftp"
)

func TestALLOAndAVBL(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.login("alice")
	for _, bad := range []string{"ALLO x", "ALLO -1", "ALLO 10 R", "ALLO 10 Q 5", "ALLO 10 R x"} {
		c.cmd(ftp.CodeBadArguments, bad)
	}
	c.cmd(ftp.CodeBadArguments, "ALLO")
	// The local backend knows its free space: ALLO is checked.
	c.cmd(ftp.CodeOK, "ALLO 100 R 10")
	// More than any disk holds: the STOR is refused before the data
	// connection is even used, and nothing is created.
	c.cmd(ftp.CodeOK, "ALLO "+strconv.FormatInt(1<<62, 10))
	dc := c.epsv()
	defer dc.Close()
	c.cmd(ftp.CodeInsufficientSpace, "STOR huge")
	if _, err := os.Stat(filepath.Join(ts.root, "huge")); !os.IsNotExist(err) {
		t.Fatalf("refused upload left a file: %v", err)
	}
	// The allocation is used once: the next STOR goes through.
	data := randomBytes(1000)
	writeAll(t, c.open("EPSV", "STOR small"), data)
	c.expect(ftp.CodeTransferComplete)
	if sum(ts.read(t, "small")) != sum(data) {
		t.Fatal("upload after a refused ALLO differs")
	}
	free, err := strconv.ParseInt(c.cmd(ftp.CodeFileStatus, "AVBL"), 10, 64)
	if err != nil || free <= 0 {
		t.Fatalf("AVBL: %d, %v", free, err)
	}
	c.cmd(ftp.CodeFileActionDenied, "AVBL small") // not a directory
	c.cmd(ftp.CodeFileActionDenied, "AVBL nope")
	bob := dial(t, ts.addr)
	bob.login("bob")
	bob.cmd(ftp.CodeFileActionDenied, "AVBL") // read-only: no upload, no space to report
}

func TestALLOAgainstQuota(t *testing.T) {
	ts := startQuotaServer(t, Quota{Bytes: 5000}, true)
	ts.write(t, "old", randomBytes(1000))
	c := dial(t, ts.addr)
	c.login("alice")
	if got := c.cmd(ftp.CodeFileStatus, "AVBL"); got != "4000" {
		t.Fatalf("AVBL under a 5000-byte quota with 1000 used: %q", got)
	}
	c.cmd(ftp.CodeOK, "ALLO 4001")
	dc := c.epsv()
	defer dc.Close()
	c.cmd(ftp.CodeExceededStorage, "STOR big")
	c.cmd(ftp.CodeOK, "ALLO 4000")
	writeAll(t, c.open("EPSV", "STOR fits"), randomBytes(4000))
	c.expect(ftp.CodeTransferComplete)
	if got := c.cmd(ftp.CodeFileStatus, "AVBL"); got != "0" {
		t.Fatalf("AVBL with the quota full: %q", got)
	}
}
