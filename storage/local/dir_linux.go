//go:build linux

package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// A listing is dominated by one fstatat(2) per entry, so this reader
// differs from os.File.Readdir where that matters for a directory of tens
// of thousands of entries: it reads getdents64(2) records into a larger
// buffer, keeps each batch's names and stat results in a few allocations
// instead of three per entry, and lets more than one goroutine make the
// fstatat calls of a large batch, so that a listing is not bound to one CPU.
// Confinement is the same as os.Root's: every name comes from the
// directory itself (it holds no '/'), and is stat'ed relative to the
// directory's descriptor without following a symbolic link.

// direntBufSize is the getdents64 buffer, about a thousand short names
// per call (os.File uses 8 KiB).
const direntBufSize = 32 << 10

// Offsets in a linux_dirent64 record: d_ino (8 bytes), d_off (8),
// d_reclen (2), d_type (1), then the NUL-terminated name. The layout is
// the same on every architecture.
const (
	direntReclenOff = 16
	direntNameOff   = 19
)

const (
	// maxStatWorkers bounds the goroutines that stat one batch.
	maxStatWorkers = 4
	// minStatShare is the fewest entries worth a goroutine of their own:
	// below it, starting and joining it costs more than the calls it takes.
	minStatShare = 64
)

// dirReader streams one directory's entries.
type dirReader struct {
	// ctx is the ReadDir call's. A DirReader outlives that call but works
	// on its behalf, as database/sql.Rows does.
	ctx  context.Context
	dir  *os.File
	rc   syscall.RawConn
	name string

	buf      []byte // getdents64 records; buf[pos:end] are not consumed yet
	pos, end int
	eof      bool

	// Scratch for one batch's names, reused from batch to batch: the
	// names, each followed by a NUL; where each ends; each with its NUL.
	nameBytes []byte
	nameEnds  []int
	cnames    [][]byte
}

func newDirReader(ctx context.Context, dir *os.File, name string) (*dirReader, error) {
	rc, err := dir.SyscallConn()
	if err != nil {
		return nil, wrapErr("readdir", name, err)
	}
	return &dirReader{ctx: ctx, dir: dir, rc: rc, name: name}, nil
}

// Next returns up to n entries, and io.EOF once there are none left. An
// entry removed between reading the directory and stat'ing it is left out.
func (d *dirReader) Next(n int) ([]fs.FileInfo, error) {
	n, err := batchSize(d.ctx, d.name, n)
	if err != nil {
		return nil, err
	}
	var infos []fs.FileInfo
	// Control keeps the descriptor from being closed (and its number
	// reused) for the whole batch, the helper goroutines' calls included.
	if cerr := d.rc.Control(func(fd uintptr) { infos, err = d.next(int(fd), n) }); cerr != nil {
		return nil, wrapErr("readdir", d.name, cerr)
	}
	if err == io.EOF {
		return nil, io.EOF
	}
	return infos, wrapErr("readdir", d.name, err)
}

// NextNames returns up to n names, without stat'ing them: for NLST,
// which needs nothing else, a listing then costs getdents64 alone.
func (d *dirReader) NextNames(n int) ([]string, error) {
	n, err := batchSize(d.ctx, d.name, n)
	if err != nil {
		return nil, err
	}
	var names []string
	if cerr := d.rc.Control(func(fd uintptr) { names, _, err = d.names(int(fd), n) }); cerr != nil {
		return nil, wrapErr("readdir", d.name, cerr)
	}
	if len(names) == 0 && err == nil {
		return nil, io.EOF
	}
	return names, wrapErr("readdir", d.name, err)
}

// next reads up to n names and stats them. Like os.File.Readdir, it
// reports io.EOF only on a call that finds no entries.
func (d *dirReader) next(fd, n int) ([]fs.FileInfo, error) {
	names, cnames, err := d.names(fd, n)
	if len(names) == 0 {
		if err == nil {
			err = io.EOF
		}
		return nil, err
	}
	entries := make([]fileInfo, len(names))
	for i, name := range names {
		entries[i].name = name
	}
	bad, serr := statAll(fd, cnames, entries)
	infos := make([]fs.FileInfo, 0, bad)
	for i := range entries[:bad] {
		if entries[i].name != "" { // "" marks an entry that vanished
			infos = append(infos, &entries[i])
		}
	}
	if serr != nil {
		return infos, serr
	}
	return infos, err
}

// names returns up to n entry names, "." and ".." left out, reading the
// directory as needed, and the same names NUL-terminated for the kernel.
// The names share one string allocation; the C names point into
// d.nameBytes, valid until the next call.
func (d *dirReader) names(fd, n int) ([]string, [][]byte, error) {
	d.nameBytes, d.nameEnds = d.nameBytes[:0], d.nameEnds[:0]
	var err error
	for len(d.nameEnds) < n {
		if d.pos >= d.end {
			if d.eof {
				break
			}
			if err = d.fill(fd); err != nil || d.eof {
				break
			}
		}
		rec := d.buf[d.pos:d.end]
		if len(rec) < direntNameOff {
			err = fmt.Errorf("getdents64: truncated record")
			break
		}
		reclen := int(binary.NativeEndian.Uint16(rec[direntReclenOff:]))
		if reclen <= direntNameOff || reclen > len(rec) {
			err = fmt.Errorf("getdents64: bad record length %d", reclen)
			break
		}
		d.pos += reclen
		name := rec[direntNameOff:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if len(name) == 0 || string(name) == "." || string(name) == ".." {
			continue
		}
		d.nameBytes = append(d.nameBytes, name...)
		d.nameEnds = append(d.nameEnds, len(d.nameBytes))
		d.nameBytes = append(d.nameBytes, 0)
	}
	all := string(d.nameBytes)
	names := make([]string, len(d.nameEnds))
	d.cnames = d.cnames[:0]
	start := 0
	for i, end := range d.nameEnds {
		names[i] = all[start:end]
		d.cnames = append(d.cnames, d.nameBytes[start:end+1])
		start = end + 1
	}
	return names, d.cnames, err
}

// fill reads the next records of the directory into d.buf.
func (d *dirReader) fill(fd int) error {
	if d.buf == nil {
		d.buf = make([]byte, direntBufSize)
	}
	for {
		n, err := unix.Getdents(fd, d.buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "getdents64", Path: d.name, Err: err}
		}
		d.pos, d.end = 0, n
		if n <= 0 {
			d.eof = true
			d.buf = nil // nothing more to read: let the buffer go now
		}
		return nil
	}
}

// statAll stats each entry, whose name is cnames[i], into entries[i],
// relative to the directory fd, spreading a large batch over several
// goroutines. An entry that no longer exists gets an empty name. It
// returns the index of the first entry that could not be stat'ed,
// len(entries) if none, with its error; every entry before it is done.
//
// The goroutines take chunks of the batch as they go rather than a fixed
// share each: a helper that waits for a CPU (another process has it)
// leaves its part to the caller instead of keeping the caller waiting.
func statAll(fd int, cnames [][]byte, entries []fileInfo) (int, error) {
	workers := min(runtime.GOMAXPROCS(0), maxStatWorkers, len(entries)/minStatShare)
	if workers <= 1 {
		return statRange(fd, cnames, entries, 0)
	}
	s := statBatch{cnames: cnames, entries: entries}
	var results [maxStatWorkers]statResult
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Go(func() { results[w] = s.work(fd, true) })
	}
	results[0] = s.work(fd, false)
	wg.Wait()
	first := statResult{bad: len(entries)}
	for _, r := range results[:workers] {
		if r.err != nil && r.bad < first.bad {
			first = r
		}
	}
	return first.bad, first.err
}

// statChunk is how many entries a goroutine of statAll takes at a time.
const statChunk = 16

// statBatch is one batch shared by statAll's goroutines.
type statBatch struct {
	cnames  [][]byte
	entries []fileInfo
	next    atomic.Int64 // the first entry no goroutine has taken
}

// statResult is a goroutine's outcome: the index of the entry it could
// not stat (len(entries) if none) and the error. It stops there.
type statResult struct {
	bad int
	err error
}

// work stats chunks until none are left. A helper stats through a
// descriptor of its own for the same directory, opened when it first
// finds work: every fstatat takes a reference on the descriptor's open
// file, and two CPUs taking it on one file contend for its cache line.
// Opening "." relative to the directory reaches nothing else.
func (s *statBatch) work(fd int, helper bool) statResult {
	n := len(s.entries)
	for {
		lo := int(s.next.Add(statChunk)) - statChunk
		if lo >= n {
			return statResult{bad: n}
		}
		if helper {
			helper = false
			own, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
			if err == nil {
				defer unix.Close(own)
				fd = own
			}
		}
		hi := min(lo+statChunk, n)
		if bad, err := statRange(fd, s.cnames[lo:hi], s.entries[lo:hi], lo); err != nil {
			return statResult{bad, err}
		}
	}
}

// statRange stats a run of a batch's entries; base is the run's first
// index in the batch, to report the failing entry's index in the batch.
func statRange(fd int, cnames [][]byte, entries []fileInfo, base int) (int, error) {
	for i := range entries {
		err := lstatat(fd, cnames[i], &entries[i].st)
		for err == syscall.EINTR {
			err = lstatat(fd, cnames[i], &entries[i].st)
		}
		switch err {
		case nil:
		case syscall.ENOENT: // removed since getdents: leave it out
			entries[i].name = ""
		default:
			return base + i, &fs.PathError{Op: "lstat", Path: entries[i].name, Err: err}
		}
	}
	return base + len(entries), nil
}

// Close releases the directory.
func (d *dirReader) Close() error {
	return wrapErr("readdir", d.name, d.dir.Close())
}
