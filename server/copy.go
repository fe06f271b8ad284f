package server

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// Downloads are copied in chunks so that a stall deadline can be set
// before each one while the kernel still does the copying (sendfile from
// a file to a socket): io.CopyN hands the socket an io.LimitedReader,
// which the sendfile path accepts. Chunks are large because each one is a
// round through the netpoller; 256 KiB chunks cost the server and the
// client about a tenth more CPU per GiB than 8 MiB ones, and the
// throughput with it. A chunk that the stall deadline cuts short after
// moving some bytes is a slow client, not a dead one (copyChunks goes on),
// so a big chunk does not set a minimum rate.
const chunkSize = 8 << 20

// Uploads are read into a large buffer and written to the file. The
// kernel's splice path (socket to pipe to file), which Go takes for an
// io.Copy into an *os.File, measured 2 to 4 times slower than plain reads
// into the page cache (bench: 376 against 1316 MiB/s for a 1 GiB upload),
// so it is not used.
const recvBufSize = 1 << 20

// deadlineEvery is how often a copy loop moves its stall deadline (at
// most every half stall timeout): often enough that a live connection
// never hits it, seldom enough to cost nothing per read.
const deadlineEvery = time.Second

// copyBufSize is the buffer of the generic path (TLS, ASCII).
const copyBufSize = 64 << 10

var (
	copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}
	recvBufs = sync.Pool{New: func() any { b := make([]byte, recvBufSize); return &b }}
)

// errDataSide marks an error of the data connection, as opposed to the
// storage side: the first becomes 426, the second a storage reply.
type dataErr struct{ err error }

func (e dataErr) Error() string { return "data connection: " + e.err.Error() }
func (e dataErr) Unwrap() error { return e.err }

// sendData copies src (a file being read) to the data connection. size
// is what the 150 reply announced (what is left of the file after REST);
// the sendfile path stops there instead of asking the kernel once more to
// learn that the file ended, which for a small file is a tenth of its
// cost. A file that grew since is sent as it was announced; one that
// shrank ends early. size < 0 means unknown: send to the end. Every copy
// path adds what it moved to progress as it goes (for STAT).
//
// conn is what dataConn.open returned: a *stallConn over TCP takes the
// kernel's sendfile path with the stall rule of copyChunks; anything else
// (TLS, rate limits, ASCII) is copied by reads and writes, and a
// stallConn beneath it applies the same rule.
func sendData(conn net.Conn, src io.Reader, size int64, ascii bool, stall time.Duration, progress *atomic.Int64) (int64, error) {
	if tc := tcpConn(conn); tc != nil && !ascii {
		if f, ok := src.(*os.File); ok {
			return sendfileChunks(tc, f, size, stall, progress)
		}
	}
	w := io.Writer(conn)
	if ascii {
		w = ftp.NewCRLFWriter(w)
	}
	if size >= 0 {
		src = io.LimitReader(src, size) // as announced, like the sendfile path
	}
	return copyGeneric(w, src, func(err error) error { return dataErr{err} }, nil, progress)
}

// tcpConn returns the TCP connection beneath conn when nothing but the
// stall rule sits between them, so that the kernel may copy.
func tcpConn(conn net.Conn) *net.TCPConn {
	switch c := conn.(type) {
	case *net.TCPConn:
		return c
	case *stallConn:
		tc, _ := c.Conn.(*net.TCPConn)
		return tc
	}
	return nil
}

// sendfileChunks takes the kernel's sendfile path chunk by chunk, up to
// size bytes (to the end of f if size < 0).
func sendfileChunks(conn *net.TCPConn, f *os.File, size int64, stall time.Duration, progress *atomic.Int64) (int64, error) {
	cork(conn)
	var sent int64
	return copyChunks(conn.SetWriteDeadline, stall, progress,
		func() (int64, error) {
			n := int64(chunkSize)
			if size >= 0 {
				if sent >= size {
					return 0, io.EOF
				}
				n = min(n, size-sent)
			}
			k, err := io.CopyN(conn, f, n)
			sent += k
			return k, err
		},
		func(err error) error {
			// io.CopyN cannot tell which side failed; a file read error
			// on a local disk is rare, a closed socket is not.
			var pe *os.PathError
			if errors.As(err, &pe) && pe.Op == "read" {
				return err
			}
			return dataErr{err}
		})
}

// receiveData copies the data connection into dst (a file being written),
// adding what it moved to progress as it goes. conn applies the stall
// rule (a stallConn beneath it, see dataConn.open).
func receiveData(conn net.Conn, dst io.Writer, ascii bool, progress *atomic.Int64) (int64, error) {
	if !ascii {
		return receiveRaw(conn, dst, progress)
	}
	cw := ftp.NewLFWriter(dst)
	n, err := copyGeneric(cw, conn, nil, func(err error) error { return dataErr{err} }, progress)
	if err == nil {
		err = cw.Flush()
	}
	return n, err
}

// receiveRaw reads the data connection into a large pooled buffer and
// writes each read to dst.
func receiveRaw(conn net.Conn, dst io.Writer, progress *atomic.Int64) (int64, error) {
	bp := recvBufs.Get().(*[]byte)
	defer recvBufs.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := conn.Read(buf)
		if n > 0 {
			w, werr := dst.Write(buf[:n])
			total += int64(w)
			progress.Add(int64(w))
			if werr != nil {
				return total, werr
			}
		}
		switch {
		case rerr == io.EOF:
			return total, nil
		case rerr != nil:
			return total, dataErr{rerr}
		}
	}
}

// copyChunks runs copyChunk (an io.CopyN, which keeps the kernel path)
// until the end of the data, with the stall rule: the transfer fails
// only once nothing has moved for stall, and that is noticed within one
// and a half stall periods. Each chunk waits at most half a stall period
// (the deadline is moved at most once a second while chunks complete, as
// each move is a round through the runtime's timers); a chunk cut short
// after moving bytes is a slow client, so it restarts the clock. side
// tells a data-connection error (dataErr) from a storage one.
func copyChunks(deadline func(time.Time) error, stall time.Duration, progress *atomic.Int64, copyChunk func() (int64, error), side func(error) error) (int64, error) {
	var total int64
	round := stall / 2
	every := min(deadlineEvery, round)
	var armed time.Time
	moved := time.Now() // when bytes last moved, as far as we know
	for {
		if now := time.Now(); now.Sub(armed) >= every {
			if err := deadline(now.Add(round)); err != nil {
				return total, dataErr{err}
			}
			armed = now
		}
		n, err := copyChunk()
		total += n
		progress.Add(n)
		if n > 0 {
			moved = time.Now()
		}
		switch {
		case errors.Is(err, io.EOF):
			return total, nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			if time.Since(moved) >= stall {
				return total, side(err)
			}
			armed = time.Time{} // a new deadline at once
		case err != nil:
			return total, side(err)
		}
	}
}

// copyGeneric copies with a pooled buffer, tagging errors by side and
// adding what it moved to progress, if not nil.
func copyGeneric(dst io.Writer, src io.Reader, wrapWrite, wrapRead func(error) error, progress *atomic.Int64) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			w, werr := dst.Write(buf[:n])
			total += int64(w)
			if progress != nil {
				progress.Add(int64(w))
			}
			if werr != nil {
				if wrapWrite != nil {
					werr = wrapWrite(werr)
				}
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			if wrapRead != nil {
				rerr = wrapRead(rerr)
			}
			return total, rerr
		}
	}
}

// stallConn applies the stall rule to a data connection copied by reads
// and writes (TLS beneath the record layer, ASCII, listings, rate-capped
// and upload transfers): a read or write fails only once nothing has
// moved for stall, noticed within one and a half stall periods. Each
// wait is bounded by half a stall period; a write cut short after moving
// bytes goes on with the rest, since a slow reader that keeps making
// progress is not stalled. The deadline is moved at most once a second
// while data flows. One goroutine reads and one writes at a time.
type stallConn struct {
	net.Conn
	stall  time.Duration
	rd, wr stallClock
}

// stallClock is one direction's deadline and last progress.
type stallClock struct {
	armed time.Time // when the deadline was last moved; zero: move it now
	moved time.Time // when bytes last moved; zero: not started
}

// arm moves the deadline half a stall period ahead, unless it moved
// less than a second (or half a stall period) ago.
func (k *stallClock) arm(set func(time.Time) error, stall time.Duration, now time.Time) error {
	if k.moved.IsZero() {
		k.moved = now
	}
	if now.Sub(k.armed) < min(deadlineEvery, stall/2) {
		return nil
	}
	k.armed = now
	return set(now.Add(stall / 2))
}

// timedOut reports whether a wait that ended at its deadline means a
// stall; if not, the next wait gets a new deadline.
func (k *stallClock) timedOut(stall time.Duration, now time.Time) bool {
	k.armed = time.Time{}
	return now.Sub(k.moved) >= stall
}

func (c *stallConn) Read(p []byte) (int, error) {
	for {
		if err := c.rd.arm(c.Conn.SetReadDeadline, c.stall, time.Now()); err != nil {
			return 0, err
		}
		n, err := c.Conn.Read(p)
		if n > 0 {
			c.rd.moved = time.Now()
			if timeoutError(err) {
				err = nil // the next read waits again
			}
			return n, err
		}
		if !timeoutError(err) || c.rd.timedOut(c.stall, time.Now()) {
			return n, err
		}
	}
}

func (c *stallConn) Write(p []byte) (int, error) {
	var total int
	for {
		if err := c.wr.arm(c.Conn.SetWriteDeadline, c.stall, time.Now()); err != nil {
			return total, err
		}
		n, err := c.Conn.Write(p[total:])
		total += n
		if n > 0 {
			c.wr.moved = time.Now()
		}
		if err == nil || !timeoutError(err) || c.wr.timedOut(c.stall, time.Now()) {
			return total, err
		}
	}
}

// ctxReader stops a long read loop (HASH of a large file) when the
// session ends.
type ctxReader struct {
	ctx interface{ Err() error }
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// countWriter adds what passes through it to n (a listing's progress).
type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
