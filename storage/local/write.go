package local

import (
	"io"
	"os"
)

// writeFile is the storage.WriteFile of FS. It holds the *os.File rather
// than embedding it so that only writing is exposed, and it maps errno
// values (ENOSPC, EDQUOT) to storage errors on every path.
type writeFile struct {
	file *os.File
	name string
}

// Write writes p at the current offset.
func (w *writeFile) Write(p []byte) (int, error) {
	n, err := w.file.Write(p)
	return n, wrapErr("write", w.name, err)
}

// ReadFrom hands r to (*os.File).ReadFrom, which uses copy_file_range(2)
// for an *os.File and splice(2) for a TCP or Unix socket, so that io.Copy
// from a data connection copies nothing through user space. io.Copy finds
// this method on the concrete type; the wrapper only maps the error.
func (w *writeFile) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.file.ReadFrom(r)
	return n, wrapErr("write", w.name, err)
}

// Close closes the file. It does not fsync: like vsftpd and ProFTPD, the
// server leaves durability to the kernel, and a crash can lose the last
// seconds of an upload, which the client can resume with REST.
func (w *writeFile) Close() error {
	return wrapErr("close", w.name, w.file.Close())
}

// Abort keeps what was written so far and closes the file, as vsftpd
// does: a partial upload on a local disk is something a later REST and
// STOR can resume. A server that wants all-or-nothing uploads writes to a
// temporary name and renames it on success.
func (w *writeFile) Abort() error {
	return w.Close()
}

var _ io.ReaderFrom = (*writeFile)(nil)
