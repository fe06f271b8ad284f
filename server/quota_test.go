package server_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
	"github.com/ferry-ftp/ferry/storage"
)

func TestByteQuota(t *testing.T) {
	for _, atomic := range []bool{false, true} {
		name := "in-place"
		if atomic {
			name = "atomic"
		}
		t.Run(name, func(t *testing.T) {
			ts := ftptest.NewServer(t, ftptest.UserQuota(ftptest.User, server.Quota{Bytes: 1 << 20}),
				func(c *server.Config) { c.AtomicUploads = atomic })
			ts.WriteFile(t, "existing", testenv.RandomBytes(600<<10))
			c := ts.Dial(t)
			c.Login(ftptest.User, ftptest.Password)
			// 600 KiB used: a 300 KiB upload fits, a second does not.
			ftptest.WriteAll(t, c.Open("EPSV", "STOR a"), testenv.RandomBytes(300<<10))
			c.Expect(ftp.CodeTransferComplete)
			dc := c.Open("EPSV", "STOR b")
			_, _ = dc.Write(testenv.RandomBytes(300 << 10))
			dc.Close()
			c.Expect(ftp.CodeExceededStorage)
			// Neither mode leaves the new file: atomic uploads remove
			// their temporary, in-place ones are rolled back.
			if _, err := os.Stat(filepath.Join(ts.Root, "b")); !os.IsNotExist(err) {
				t.Fatalf("upload over quota left a file: %v", err)
			}
			if m, _ := filepath.Glob(filepath.Join(ts.Root, storage.UploadTempPrefix+"*")); len(m) != 0 {
				t.Fatalf("temporaries left: %v", m)
			}
			// Deleting frees space: the upload now fits.
			c.Want(ftp.CodeFileActionOK, "DELE existing")
			ftptest.WriteAll(t, c.Open("EPSV", "STOR b"), testenv.RandomBytes(300<<10))
			c.Expect(ftp.CodeTransferComplete)
			// Overwriting a file counts only the difference.
			ftptest.WriteAll(t, c.Open("EPSV", "STOR a"), testenv.RandomBytes(600<<10))
			c.Expect(ftp.CodeTransferComplete)
		})
	}
}

func TestFileQuota(t *testing.T) {
	ts := ftptest.NewServer(t, ftptest.UserQuota(ftptest.User, server.Quota{Files: 2}))
	ts.WriteFile(t, "one", []byte("1"))
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	ftptest.WriteAll(t, c.Open("EPSV", "STOR two"), []byte("2"))
	c.Expect(ftp.CodeTransferComplete)
	c.EPSV()
	c.Want(ftp.CodeExceededStorage, "STOR three")
	c.EPSV()
	c.Want(ftp.CodeExceededStorage, "STOU")
	// Overwriting an existing file is not a new file.
	ftptest.WriteAll(t, c.Open("EPSV", "STOR two"), []byte("22"))
	c.Expect(ftp.CodeTransferComplete)
	c.Want(ftp.CodeFileActionOK, "DELE one")
	ftptest.WriteAll(t, c.Open("EPSV", "STOR three"), []byte("3"))
	c.Expect(ftp.CodeTransferComplete)
}
