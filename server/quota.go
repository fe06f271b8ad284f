package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sync"

	"github.com/ferry-ftp/ferry/storage"
)

// Quota caps what a user may store: bytes in all regular files and the
// number of regular files. Zero fields mean no cap. Exceeding it fails the
// upload with 552 (RFC 959: exceeded storage allocation).
type Quota struct {
	Bytes int64
	Files int64
}

func (q Quota) enabled() bool { return q.Bytes > 0 || q.Files > 0 }

// errQuotaFiles: one more file would exceed the file quota.
var errQuotaFiles = fmt.Errorf("file count quota reached: %w", storage.ErrQuota)

// quotaUsage is a user's measured usage, shared by the user's sessions.
// It is measured by walking the home on first need and kept up to date by
// this server's uploads, deletes and renames; changes made outside the
// server are seen at the next first login.
type quotaUsage struct {
	limit Quota

	mu       sync.Mutex
	measured bool
	bytes    int64
	files    int64
}

// measure walks fsys once to learn the usage.
func (q *quotaUsage) measure(ctx context.Context, fsys storage.FS) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.measured {
		return nil
	}
	bytes, files, err := walkUsage(ctx, fsys)
	if err != nil {
		return fmt.Errorf("measuring quota usage: %w", err)
	}
	q.bytes, q.files, q.measured = bytes, files, true
	return nil
}

// walkUsage sums the sizes and count of regular files under the root,
// directory by directory, batch by batch.
func walkUsage(ctx context.Context, fsys storage.FS) (bytes, files int64, err error) {
	queue := []string{"."}
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		dr, err := fsys.ReadDir(ctx, dir)
		if err != nil {
			return 0, 0, err
		}
		for {
			batch, rerr := dr.Next(listBatch)
			for _, fi := range batch {
				switch {
				case fi.Mode().IsRegular():
					bytes += fi.Size()
					files++
				case fi.IsDir():
					queue = append(queue, path.Join(dir, fi.Name()))
				}
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			if rerr != nil {
				_ = dr.Close()
				return 0, 0, rerr
			}
		}
		_ = dr.Close()
	}
	return bytes, files, nil
}

// addFile counts a new file, or refuses it past the file quota.
func (q *quotaUsage) addFile() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.limit.Files > 0 && q.files+1 > q.limit.Files {
		return errQuotaFiles
	}
	q.files++
	return nil
}

// release gives back bytes and files (a delete, a truncation, a failed upload).
func (q *quotaUsage) release(bytes, files int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.bytes = max(0, q.bytes-bytes)
	q.files = max(0, q.files-files)
}

// charge adds bytes regardless of the cap (giving back a file that stays).
func (q *quotaUsage) charge(bytes int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.bytes += bytes
}

// room returns how many bytes the byte quota still allows; ok is false
// when there is no byte cap.
func (q *quotaUsage) room() (n int64, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.limit.Bytes <= 0 {
		return 0, false
	}
	return max(0, q.limit.Bytes-q.bytes), true
}

// reserve takes up to n bytes of the byte quota and returns how many it
// took; fewer than n means the quota is reached.
func (q *quotaUsage) reserve(n int64) int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.limit.Bytes <= 0 {
		q.bytes += n
		return n
	}
	take := min(n, max(0, q.limit.Bytes-q.bytes))
	q.bytes += take
	return take
}

// quotaWriter counts an upload's bytes against the quota and fails with
// storage.ErrQuota at the cap.
type quotaWriter struct {
	storage.WriteFile
	q       *quotaUsage
	written int64
}

func (w *quotaWriter) Write(p []byte) (int, error) {
	take := w.q.reserve(int64(len(p)))
	n, err := w.WriteFile.Write(p[:take])
	w.written += int64(n)
	if unused := take - int64(n); unused > 0 {
		w.q.release(unused, 0)
	}
	if err == nil && take < int64(len(p)) {
		err = fmt.Errorf("upload stopped at the byte quota: %w", storage.ErrQuota)
	}
	return n, err
}

// quotaFor returns the session user's quota usage, measured, or nil when
// the user has no quota.
func (s *session) quotaFor(ctx context.Context) (*quotaUsage, error) {
	q := s.quota()
	if q == nil {
		return nil, nil
	}
	if err := q.measure(ctx, s.user.FS); err != nil {
		return nil, err
	}
	return q, nil
}

// releaseFile gives back a removed or replaced file's bytes and count.
func (s *session) releaseFile(fi fs.FileInfo) {
	if q := s.quota(); q != nil && fi != nil && fi.Mode().IsRegular() {
		q.release(fi.Size(), 1)
	}
}

// quota returns the logged-in user's quota usage, or nil.
func (s *session) quota() *quotaUsage {
	if s.ustate == nil {
		return nil
	}
	return s.ustate.quota.Load()
}
