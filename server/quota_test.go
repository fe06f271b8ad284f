package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/storage/local"
)

// quotaAuth gives alice a quota over a root shared with the test.
type quotaAuth struct {
	root  string
	quota Quota
}

func (a quotaAuth) Authenticate(_ context.Context, req LoginRequest) (*User, error) {
	if req.User != "alice" || req.Password != "secret" {
		return nil, ErrBadLogin
	}
	fsys, err := local.New(a.root)
	if err != nil {
		return nil, err
	}
	return &User{Name: "alice", FS: fsys, Perms: PermAll, Quota: a.quota}, nil
}

func startQuotaServer(t *testing.T, q Quota, atomic bool) *testServer {
	t.Helper()
	var ts *testServer
	ts = startServer(t, func(c *Config) { c.AtomicUploads = atomic })
	ts.srv.cfg.Auth = quotaAuth{root: ts.root, quota: q}
	return ts
}

func TestByteQuota(t *testing.T) {
	for _, atomic := range []bool{false, true} {
		name := "in-place"
		if atomic {
			name = "atomic"
		}
		t.Run(name, func(t *testing.T) {
			ts := startQuotaServer(t, Quota{Bytes: 1 << 20}, atomic)
			ts.write(t, "existing", randomBytes(600<<10))
			c := dial(t, ts.addr)
			c.login("alice")
			// 600 KiB used: a 300 KiB upload fits, a second does not.
			writeAll(t, c.open("EPSV", "STOR a"), randomBytes(300<<10))
			c.expect(ftp.CodeTransferComplete)
			dc := c.open("EPSV", "STOR b")
			_, _ = dc.Write(randomBytes(300 << 10))
			dc.Close()
			c.expect(ftp.CodeExceededStorage)
			// Neither mode leaves the new file: atomic uploads remove
			// their temporary, in-place ones are rolled back.
			if _, err := os.Stat(filepath.Join(ts.root, "b")); !os.IsNotExist(err) {
				t.Fatalf("upload over quota left a file: %v", err)
			}
			if m, _ := filepath.Glob(filepath.Join(ts.root, atomicPrefix+"*")); len(m) != 0 {
				t.Fatalf("temporaries left: %v", m)
			}
			// Deleting frees space: the upload now fits.
			c.cmd(ftp.CodeFileActionOK, "DELE existing")
			writeAll(t, c.open("EPSV", "STOR b"), randomBytes(300<<10))
			c.expect(ftp.CodeTransferComplete)
			// Overwriting a file counts only the difference.
			writeAll(t, c.open("EPSV", "STOR a"), randomBytes(600<<10))
			c.expect(ftp.CodeTransferComplete)
		})
	}
}

func TestFileQuota(t *testing.T) {
	ts := startQuotaServer(t, Quota{Files: 2}, false)
	ts.write(t, "one", []byte("1"))
	c := dial(t, ts.addr)
	c.login("alice")
	writeAll(t, c.open("EPSV", "STOR two"), []byte("2"))
	c.expect(ftp.CodeTransferComplete)
	c.epsv()
	c.cmd(ftp.CodeExceededStorage, "STOR three")
	c.epsv()
	c.cmd(ftp.CodeExceededStorage, "STOU")
	// Overwriting an existing file is not a new file.
	writeAll(t, c.open("EPSV", "STOR two"), []byte("22"))
	c.expect(ftp.CodeTransferComplete)
	c.cmd(ftp.CodeFileActionOK, "DELE one")
	writeAll(t, c.open("EPSV", "STOR three"), []byte("3"))
	c.expect(ftp.CodeTransferComplete)
}
