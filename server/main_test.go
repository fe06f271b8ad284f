package server_test

// The tests of this package drive a real server through its control
// connection, started by internal/ftptest; export_test.go lends them the
// few internals they check. Tests of the internals themselves, which
// start no server, are in package server.

import (
	"crypto/sha256"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-ftp/ferry/internal/ftptest"
	"go.uber.org/goleak"
)

// TestMain fails the run if goroutines outlive the tests: every server
// is closed when its test ends, so a leftover session, transfer or
// listener goroutine is a leak in the server.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

// sparseFile makes a file of size bytes in the server's root that costs
// no disk.
func sparseFile(t *testing.T, ts *ftptest.Server, name string, size int64) {
	t.Helper()
	f, err := os.Create(filepath.Join(ts.Root, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
