package server

import (
	"context"
	"errors"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// transfer is one use of a data connection: a listing, a download or an
// upload. The transfer command builds it in the session goroutine, then
// runTransfer runs it; from there on only the transfer's own goroutine
// touches it, except for the fields marked otherwise.
type transfer struct {
	verb    string // RETR, STOR, APPE, STOU, LIST, NLST, MLSD
	vpath   string // the virtual path, for logs and STAT
	upload  bool   // data flows from the client
	opening string // the 150 reply's text
	data    *dataConn

	// ctx is cancelled by ABOR, the session's end and Shutdown. Storage
	// calls of the transfer use it, so ABOR interrupts them on any
	// backend.
	ctx    context.Context
	cancel context.CancelFunc
	start  time.Time

	// fast, if set, tries to finish the transfer in the session
	// goroutine without waiting (the small-download path). It reports
	// how many bytes it moved, and whether the transfer is over (with
	// its error); if not, the transfer goroutine does the rest.
	fast func(t *transfer) (n int64, over bool, err error)
	// move copies the bytes over conn, which is ready (TLS done, rate
	// limits applied), and returns how many moved.
	move func(ctx context.Context, conn net.Conn) (int64, error)
	// settle, if set, is told the outcome before the final reply, so
	// that what the client sees next already reflects it: a failed
	// upload's temporary is gone when its 4xx/5xx arrives.
	settle func(err error)
	// release, if set, frees what the transfer held (a file, a
	// directory reader) after the final reply.
	release func()

	// Read by other goroutines (ABOR, STAT, Shutdown).
	aborted atomic.Bool  // set by ABOR before cancel: the reply is 426 "aborted"
	cut     atomic.Bool  // set by Shutdown past its grace before cancel
	tooSlow atomic.Bool  // set by the minimum-rate check before cancel
	moved   atomic.Int64 // bytes moved so far
	size    int64        // bytes announced, or -1; written before runTransfer
	done    chan struct{}
	// over is set, under the session's xmu, just before the final
	// reply: a command read from then on came after the transfer, as
	// far as the client can tell, and must not act on it (handleParsed).
	over bool
}

// newTransfer starts building a transfer under ctx, the command's.
// Everything the command does for it from here on (opening the file,
// reading the directory) uses t.ctx. A transfer that never runs must be
// dropped with t.cancel.
func (s *session) newTransfer(ctx context.Context, verb, vpath string, upload bool) *transfer {
	tctx, cancel := context.WithCancel(ctx)
	return &transfer{verb: verb, vpath: vpath, upload: upload, ctx: tctx, cancel: cancel,
		size: -1, done: make(chan struct{})}
}

// unlessRefused passes on what a transfer command's set-up returned,
// dropping the transfer when that is a reply or an error: the command
// was refused, and the transfer never runs.
func (t *transfer) unlessRefused(r *ftp.Reply, err error) (*ftp.Reply, error) {
	if r != nil || err != nil {
		t.cancel()
	}
	return r, err
}

// runTransfer runs t with the data connection it took. It is the one
// path of every transfer: the fast path in the session goroutine first,
// if t has one, else (or for what it leaves) a transfer goroutine, so the
// session keeps reading ABOR and STAT. finishTransfer sends the final
// reply either way.
func (s *session) runTransfer(t *transfer) {
	s.xmu.Lock()
	s.xfer = t
	s.xmu.Unlock()
	t.start = time.Now()
	var sent int64
	if t.fast != nil {
		n, over, err := t.fast(t)
		if over {
			s.finishTransfer(t, n, err)
			return
		}
		sent = n
	}
	go func() {
		var n int64
		var err error
		defer func() {
			if r := recover(); r != nil {
				// One transfer's bug must not take the server down; the
				// session cannot be trusted any more.
				s.log.Error("transfer panic", "panic", r, "stack", string(debug.Stack()))
				err = errors.New("transfer panic")
				s.closeNow()
			}
			s.finishTransfer(t, sent+n, err)
		}()
		n, err = s.moveData(t)
	}()
}

// moveData opens the data connection, announces it with 150 and runs the
// copy. It runs in the transfer goroutine.
func (s *session) moveData(t *transfer) (n int64, err error) {
	conn, err := t.data.open(t.ctx, func() { _ = s.reply(ftp.CodeFileStatusOK, t.opening) }, !t.upload)
	if err == nil {
		if min := s.srv.cfg.MinRate; min > 0 {
			stop := t.watchRate(min, s.srv.cfg.MinRateWindow)
			defer stop()
		}
		n, err = t.move(t.ctx, s.limitConn(t.ctx, conn, t.upload))
	}
	if ferr := t.data.finish(err == nil && !t.aborted.Load()); err == nil {
		err = ferr
	}
	return n, err
}

// finishTransfer is the end of every transfer: settle, the final reply,
// the transfer log line, and the session told that it may run the next
// command. It runs in whichever goroutine ran the transfer last.
func (s *session) finishTransfer(t *transfer, n int64, err error) {
	t.data.close()
	t.moved.Store(n)
	if (t.aborted.Load() || t.cut.Load()) && err == nil {
		err = context.Canceled
	}
	if t.settle != nil {
		t.settle(err)
	}
	s.xmu.Lock()
	t.over = true
	s.xmu.Unlock()
	r := s.transferReply(t, err)
	_ = s.reply(r.Code, r.Msg)
	s.logTransfer(t, n, err)
	if t.release != nil {
		t.release()
	}
	t.cancel()
	s.xmu.Lock()
	s.xfer = nil
	if len(s.queued) > 0 {
		// The session goroutine is blocked reading the next command;
		// what it queued behind this transfer may run now.
		_ = s.raw.SetReadDeadline(time.Now())
	}
	s.xmu.Unlock()
	close(t.done)
}

// transferReply is the final reply of a transfer that ended with err.
func (s *session) transferReply(t *transfer, err error) *ftp.Reply {
	switch {
	case t.cut.Load():
		return reply(ftp.CodeTransferAborted, "Server shutting down; transfer aborted.")
	case t.tooSlow.Load():
		return reply(ftp.CodeTransferAborted, "Transfer slower than the server's minimum rate; aborted.")
	case t.aborted.Load():
		return reply(ftp.CodeTransferAborted, "Transfer aborted.")
	case err == nil:
		return reply(ftp.CodeTransferComplete, "Transfer complete.")
	case errors.Is(err, errTLSNoReuse):
		return reply(ftp.CodeNetworkProtocol, "TLS session of data connection not resumed; the server requires session reuse.")
	case errors.Is(err, errDataTLS):
		return reply(ftp.CodeCantOpenData, "TLS negotiation on the data connection failed.")
	case errors.Is(err, errDataConnect):
		return reply(ftp.CodeCantOpenData, "Can't open data connection.")
	case errors.As(err, new(dataErr)) || t.ctx.Err() != nil:
		return reply(ftp.CodeTransferAborted, "Connection closed; transfer aborted.")
	}
	return s.replyFor(err)
}

// logTransfer writes the transfer log line.
func (s *session) logTransfer(t *transfer, n int64, err error) {
	result := "ok"
	if err != nil {
		result = err.Error()
	}
	s.log.Info("transfer", "verb", t.verb, "path", t.vpath, "bytes", n,
		"duration", time.Since(t.start).Round(time.Microsecond), "mode", t.data.cmd,
		"tls", t.data.protP, "result", result)
}

// watchRate cuts the transfer when it moves fewer than min bytes per
// second over a window, checking at the end of each window; the stop it
// returns ends the checks.
func (t *transfer) watchRate(min int64, window time.Duration) (stop func()) {
	var mu sync.Mutex
	var timer *time.Timer
	stopped := false
	last := t.moved.Load()
	var check func()
	check = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		now := t.moved.Load()
		if float64(now-last) < float64(min)*window.Seconds() {
			t.tooSlow.Store(true)
			t.cancel()
			return
		}
		last = now
		timer = time.AfterFunc(window, check)
	}
	mu.Lock()
	timer = time.AfterFunc(window, check)
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		timer.Stop()
	}
}

// status describes the running transfer for STAT.
func (t *transfer) status() string {
	s := t.verb + " " + sanitize(t.vpath) + ": " + strconv.FormatInt(t.moved.Load(), 10)
	if t.size >= 0 {
		s += " of " + strconv.FormatInt(t.size, 10)
	}
	return s + " bytes moved"
}
