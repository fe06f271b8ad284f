package server_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
)

func TestALLOAndAVBL(t *testing.T) {
	ts := ftptest.NewServer(t)
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	for _, bad := range []string{"ALLO x", "ALLO -1", "ALLO 10 R", "ALLO 10 Q 5", "ALLO 10 R x"} {
		c.Want(ftp.CodeBadArguments, bad)
	}
	c.Want(ftp.CodeBadArguments, "ALLO")
	// The local backend knows its free space: ALLO is checked.
	c.Want(ftp.CodeOK, "ALLO 100 R 10")
	// More than any disk holds: the STOR is refused before the data
	// connection is even used, and nothing is created.
	c.Want(ftp.CodeOK, "ALLO "+strconv.FormatInt(1<<62, 10))
	dc := c.EPSV()
	defer dc.Close()
	c.Want(ftp.CodeInsufficientSpace, "STOR huge")
	if _, err := os.Stat(filepath.Join(ts.Root, "huge")); !os.IsNotExist(err) {
		t.Fatalf("refused upload left a file: %v", err)
	}
	// The allocation is used once: the next STOR goes through.
	data := testenv.RandomBytes(1000)
	ftptest.WriteAll(t, c.Open("EPSV", "STOR small"), data)
	c.Expect(ftp.CodeTransferComplete)
	if sum(ts.ReadFile(t, "small")) != sum(data) {
		t.Fatal("upload after a refused ALLO differs")
	}
	free, err := strconv.ParseInt(c.Want(ftp.CodeFileStatus, "AVBL"), 10, 64)
	if err != nil || free <= 0 {
		t.Fatalf("AVBL: %d, %v", free, err)
	}
	c.Want(ftp.CodeFileActionDenied, "AVBL small") // not a directory
	c.Want(ftp.CodeFileActionDenied, "AVBL nope")
	bob := ts.Dial(t)
	bob.Login(ftptest.ReadOnlyUser, ftptest.Password)
	bob.Want(ftp.CodeFileActionDenied, "AVBL") // read-only: no upload, no space to report
}

func TestALLOAgainstQuota(t *testing.T) {
	ts := ftptest.NewServer(t, ftptest.UserQuota(ftptest.User, server.Quota{Bytes: 5000}),
		func(c *server.Config) { c.AtomicUploads = true })
	ts.WriteFile(t, "old", testenv.RandomBytes(1000))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	if got := c.Want(ftp.CodeFileStatus, "AVBL"); got != "4000" {
		t.Fatalf("AVBL under a 5000-byte quota with 1000 used: %q", got)
	}
	c.Want(ftp.CodeOK, "ALLO 4001")
	dc := c.EPSV()
	defer dc.Close()
	c.Want(ftp.CodeExceededStorage, "STOR big")
	c.Want(ftp.CodeOK, "ALLO 4000")
	ftptest.WriteAll(t, c.Open("EPSV", "STOR fits"), testenv.RandomBytes(4000))
	c.Expect(ftp.CodeTransferComplete)
	if got := c.Want(ftp.CodeFileStatus, "AVBL"); got != "0" {
		t.Fatalf("AVBL with the quota full: %q", got)
	}
}
