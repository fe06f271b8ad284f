package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/storage"
)

// atomicPrefix names the hidden temporaries of atomic uploads; listings
// never show them and a restart removes stale ones.
const atomicPrefix = storage.UploadTempPrefix

func (s *session) cmdREST(_ context.Context, arg string) (*ftp.Reply, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64)
	if err != nil || n < 0 {
		return reply(ftp.CodeBadArguments, "REST needs a non-negative byte offset."), nil
	}
	s.restOffset = n
	return reply(ftp.CodeFilePending, "Restarting at "+strconv.FormatInt(n, 10)+". Send STOR or RETR to initiate transfer."), nil
}

// takeRest returns and clears the offset of a preceding REST.
func (s *session) takeRest() int64 {
	n := s.restOffset
	s.restOffset = 0
	return n
}

// cmdABOR runs when no transfer does: an ABOR read during a transfer
// aborts it at once and answers in order (handleParsed, runQueued).
// A data connection set up and not used yet is dropped.
func (s *session) cmdABOR(context.Context, string) (*ftp.Reply, error) {
	s.data.reset()
	return reply(ftp.CodeTransferComplete, "No transfer to abort."), nil
}

func (s *session) modeName() string {
	if s.binary {
		return "BINARY"
	}
	return "ASCII"
}

// statter is an open file that can describe itself (an *os.File): its
// size then costs no second lookup of the name, and is the size of what
// was opened, even if the name changed since or is a link.
type statter interface {
	Stat() (fs.FileInfo, error)
}

// fileInfo describes the open file f, opened as name.
func fileInfo(ctx context.Context, fsys storage.FS, f storage.File, name string) (fs.FileInfo, error) {
	if st, ok := f.(statter); ok {
		return st.Stat()
	}
	return fsys.Stat(ctx, name)
}

func (s *session) cmdRETR(ctx context.Context, arg string) (*ftp.Reply, error) {
	if err := s.need(PermDownload); err != nil {
		return nil, err
	}
	offset, end := s.takeRest(), s.takeRangeEnd()
	if offset > 0 && !s.binary {
		// A REST offset counts octets of the transfer, which in ASCII
		// mode are not the file's (RFC 3659 5.3): refused, as vsftpd
		// does, rather than resumed at the wrong byte.
		return reply(ftp.CodeFileActionDenied, "No support for resume of ASCII transfer."), nil
	}
	vpath, name, err := s.resolve(arg)
	if err != nil {
		return nil, err
	}
	t := s.newTransfer(ctx, "RETR", vpath, false)
	f, err := s.user.FS.Open(t.ctx, name, offset)
	if err != nil {
		t.cancel()
		return nil, err
	}
	fi, err := fileInfo(t.ctx, s.user.FS, f, name)
	if err == nil && offset > fi.Size() {
		err = reply(ftp.CodeInvalidRestart, "Restart offset beyond end of file.")
	}
	var r *ftp.Reply
	if err == nil {
		t.data, r = s.data.take()
	}
	if err != nil || r != nil {
		_ = f.Close()
		t.cancel()
		return r, err
	}
	size := fi.Size() - offset
	if end > 0 && end < fi.Size() {
		size = end - offset // RANG: up to its end point, inclusive
	}
	t.size = size
	t.opening = "Opening " + s.modeName() + " mode data connection for " + path.Base(vpath)
	if s.binary {
		t.opening += " (" + strconv.FormatInt(size, 10) + " bytes)."
	} else {
		// The octets an ASCII transfer sends are not the file's size.
		t.opening += "."
	}
	t.release = func() { _ = f.Close() }
	ascii, stall := !s.binary, s.srv.cfg.DataStallTimeout
	var sent int64 // by the fast path
	if file, ok := f.(*os.File); ok && !ascii && size <= fastMax && !s.rateLimited(false) {
		t.fast = func(t *transfer) (int64, bool, error) {
			n, over, err := s.retrFast(t, file, size)
			sent = n
			return n, over, err
		}
	}
	t.move = func(_ context.Context, conn net.Conn) (int64, error) {
		return sendData(conn, f, size-sent, ascii, stall, &t.moved)
	}
	s.runTransfer(t)
	return nil, nil
}

// fastMax is the largest download tried on the fast path: small enough
// that a fresh connection's send buffer takes it in one go on any
// network.
const fastMax = 64 << 10

// retrFast is RETR's fast path. When the client's passive connection is
// already waiting and the kernel takes the whole file in one
// non-blocking sendfile, the download is done in the session goroutine,
// without the transfer goroutine, its wake-ups and thread hand-offs,
// which are a third of the server's work for a 4 KiB file. Anything that
// would wait (no connection yet, a full send buffer) is left to the
// transfer goroutine, with the connection already accepted and announced,
// so the session is never kept from reading ABOR.
func (s *session) retrFast(t *transfer, f *os.File, size int64) (n int64, over bool, err error) {
	pc, ok := t.data.acceptNow()
	if !ok {
		return 0, false, nil
	}
	_ = s.reply(ftp.CodeFileStatusOK, t.opening)
	n = pc.sendfile(f, size)
	if n < size {
		c, err := pc.netConn()
		if err != nil { // pc is closed
			return n, true, dataErr{err}
		}
		t.data.adopt(c)
		return n, false, nil
	}
	if err := pc.close(); err != nil {
		return n, true, dataErr{err}
	}
	s.srv.fastDone.Add(1)
	return n, true, nil
}

func (s *session) cmdSTOR(ctx context.Context, arg string) (*ftp.Reply, error) {
	return s.store(ctx, "STOR", arg, false)
}

func (s *session) cmdAPPE(ctx context.Context, arg string) (*ftp.Reply, error) {
	return s.store(ctx, "APPE", arg, true)
}

// upload is an upload in progress: where the bytes go and how they
// become visible.
type upload struct {
	fsys     storage.FS
	wf       storage.WriteFile
	tmp      string      // the name being written
	final    string      // the name it gets; == tmp unless atomic
	atomic   bool        // rename tmp to final on success, remove it on failure
	replaced fs.FileInfo // the file an atomic upload replaces, if any
	q        *quotaUsage // the user's quota, or nil
	counted  bool        // a file was counted against q for this upload
	closed   bool        // wf.Close was called: the bytes are stored, or lost
	// An in-place upload's starting point, for a roll-back: whether the
	// file existed, and its length when the transfer started (after
	// REST+STOR's truncation at the offset).
	existed bool
	base    int64
	ranged  bool // a RANG range written in place: never rolled back
}

// store implements STOR and APPE.
func (s *session) store(ctx context.Context, verb, arg string, appendMode bool) (*ftp.Reply, error) {
	offset, allocate, end := s.takeRest(), s.takeAllocation(), s.takeRangeEnd()
	if appendMode {
		// APPE appends at the end by definition: a pending REST marker
		// (or RANG) is cleared and has no effect.
		offset, end = 0, 0
	}
	if offset > 0 && !s.binary {
		return reply(ftp.CodeFileActionDenied, "No support for resume of ASCII transfer."), nil
	}
	if end > 0 && s.srv.cfg.AtomicUploads {
		// RANG with STOR writes in place without truncating
		// (draft-bryan-ftp-range); atomic uploads never write in place.
		return reply(ftp.CodeNotImplParam, "RANG with STOR is not available while uploads are atomic."), nil
	}
	vpath, name, err := s.resolveNew(arg)
	if err != nil {
		return nil, err
	}
	if name == "." {
		return reply(ftp.CodeBadFileName, "File name not allowed."), nil
	}
	t := s.newTransfer(ctx, verb, vpath, true)
	return t.unlessRefused(s.prepareStore(t, name, offset, allocate, end, appendMode))
}

// prepareStore opens the target of STOR or APPE and starts the upload.
func (s *session) prepareStore(t *transfer, name string, offset, allocate, end int64, appendMode bool) (*ftp.Reply, error) {
	fsys := s.user.FS
	old, err := fsys.Stat(t.ctx, name)
	switch {
	case err == nil:
		if old.IsDir() {
			return reply(ftp.CodeFileActionDenied, "Is a directory."), nil
		}
		if offset > old.Size() {
			return reply(ftp.CodeInvalidRestart, "Restart offset beyond end of file."), nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	case offset > 0:
		return reply(ftp.CodeInvalidRestart, "Restart offset beyond end of file."), nil
	default:
		old = nil
	}
	if err := s.need(PermUpload); err != nil {
		return nil, err
	}
	if old != nil {
		if err := s.need(PermOverwrite); err != nil {
			return nil, err
		}
	}
	if r := s.checkAllocation(t.ctx, name, allocate); r != nil {
		return r, nil
	}
	up := &upload{fsys: fsys, tmp: name, final: name, existed: old != nil, base: offset}
	if appendMode && old != nil {
		up.base = old.Size()
	}
	opts := storage.CreateOptions{Offset: offset, Append: appendMode, KeepTail: end > 0}
	if s.srv.cfg.AtomicUploads && !appendMode && offset == 0 {
		// Readers must never see a partial file: write a hidden
		// temporary beside the target and rename it on success.
		up.atomic, up.replaced = true, old
		up.tmp = path.Join(path.Dir(name), atomicPrefix+randomToken())
		opts.Exclusive = true
	}
	if up.q, err = s.quotaFor(t.ctx); err != nil {
		return nil, err
	}
	if up.q != nil {
		// A new name (or an atomic temporary) is one more file.
		if old == nil || up.atomic {
			if err := up.q.addFile(); err != nil {
				return nil, err
			}
			up.counted = true
		}
	}
	if up.wf, err = fsys.Create(t.ctx, up.tmp, opts); err != nil {
		up.releaseNew()
		if end > 0 && errors.Is(err, storage.ErrUnsupported) {
			return reply(ftp.CodeNotImplParam, "RANG with STOR is not available on this storage."), nil
		}
		return nil, err
	}
	if end > 0 {
		// The upload stops at the range's end point. What it wrote over
		// cannot be restored, so a failed range write is not rolled back.
		up.wf = &rangeWriter{WriteFile: up.wf, left: end - offset}
		up.ranged = true
	}
	if up.q != nil {
		if old != nil && !appendMode {
			// STOR truncates at the offset, or an atomic upload replaces
			// the file: what was beyond the offset is freed now (and
			// charged back if an atomic upload fails).
			up.q.release(old.Size()-offset, 0)
		}
		up.wf = &quotaWriter{WriteFile: up.wf, q: up.q}
	}
	return s.startUpload(t, up, "Ok to send data.")
}

// releaseNew gives back the file count taken for an upload that never started.
func (up *upload) releaseNew() {
	if up.counted {
		up.q.release(0, 1)
	}
}

// startUpload takes the data connection and runs the upload: the bytes
// go to up.wf, which is stored (and, when atomic, renamed into place)
// before the 226, or discarded before the error's reply.
func (s *session) startUpload(t *transfer, up *upload, opening string) (*ftp.Reply, error) {
	d, r := s.data.take()
	if r != nil {
		up.discard(context.WithoutCancel(t.ctx))
		t.cancel()
		return r, nil
	}
	t.data, t.opening = d, opening
	ascii := !s.binary
	t.move = func(ctx context.Context, conn net.Conn) (int64, error) {
		n, err := receiveData(conn, up.wf, ascii, &t.moved)
		if err != nil || t.aborted.Load() {
			return n, err
		}
		return n, up.store(context.WithoutCancel(ctx))
	}
	// Cleanup must run even when the transfer's context is cancelled
	// by ABOR.
	log := s.log
	t.settle = func(err error) {
		if err == nil {
			return
		}
		if rerr := up.fail(context.WithoutCancel(t.ctx), err); rerr != nil {
			log.Warn("failed upload not rolled back", "path", t.vpath, "err", rerr)
		}
	}
	s.runTransfer(t)
	return nil, nil
}

// store makes a completely received upload permanent: the file is stored
// only once Close succeeds (a full disk may show up only here), and an
// atomic upload is then renamed over its target.
func (up *upload) store(ctx context.Context) error {
	up.closed = true
	if err := up.wf.Close(); err != nil {
		return err
	}
	if up.atomic {
		if err := up.fsys.Rename(ctx, up.tmp, up.final); err != nil {
			return err
		}
		if up.q != nil && up.replaced != nil {
			up.q.release(0, 1) // the replaced file's bytes went at the start
		}
	}
	return nil
}

// fail ends an upload that did not complete with err. An atomic upload's
// temporary goes. An in-place upload (APPE, REST+STOR, or any upload with
// atomic uploads off) that failed on the server's side (a full disk, the
// quota, a storage error) or before any byte arrived is rolled back: cut
// to the length it had when it started, or removed if it created the
// file, so such a failure never leaves a changed file. One the client cut
// (a lost data connection, ABOR) keeps what arrived, for REST to resume,
// as vsftpd and ProFTPD keep it.
func (up *upload) fail(ctx context.Context, err error) error {
	if !up.closed {
		_ = up.wf.Abort()
	}
	switch {
	case up.atomic:
		_ = up.fsys.Remove(ctx, up.tmp)
		up.uncharge()
		return nil
	case errors.As(err, new(dataErr)), errors.Is(err, context.Canceled), up.ranged:
		return nil
	}
	return up.rollback(ctx)
}

// rollback undoes an in-place upload's writes and their charge to the
// quota. The storage API's own truncating open (Create at an offset)
// does the cut, so any backend that can resume an upload can roll one
// back.
func (up *upload) rollback(ctx context.Context) error {
	var err error
	if up.existed {
		var wf storage.WriteFile
		if wf, err = up.fsys.Create(ctx, up.final, storage.CreateOptions{Offset: up.base}); err == nil {
			err = wf.Close()
		}
	} else {
		err = up.fsys.Remove(ctx, up.final)
	}
	if err != nil {
		return fmt.Errorf("rolling back %q to %d bytes: %w", up.final, up.base, err)
	}
	if qw, ok := up.wf.(*quotaWriter); ok {
		files := int64(0)
		if !up.existed && up.counted {
			files = 1
		}
		up.q.release(qw.written, files)
	}
	return nil
}

// discard ends an upload that never started: an atomic temporary is
// removed and its bytes and file given back, an in-place one rolled back.
func (up *upload) discard(ctx context.Context) {
	_ = up.fail(ctx, errors.New("upload not started"))
}

// uncharge undoes a failed atomic upload's quota accounting: the
// temporary's bytes and file go, the file it would have replaced stays.
func (up *upload) uncharge() {
	qw, ok := up.wf.(*quotaWriter)
	if !ok {
		return
	}
	up.q.release(qw.written, 1)
	if up.replaced != nil {
		up.q.charge(up.replaced.Size())
	}
}

// cmdSTOU stores under a name the server makes up (RFC 959; the reply
// format follows RFC 1123 4.1.2.9: "150 FILE: name").
func (s *session) cmdSTOU(ctx context.Context, arg string) (*ftp.Reply, error) {
	if err := s.need(PermUpload); err != nil {
		return nil, err
	}
	s.takeRest()
	if r := s.checkAllocation(ctx, path.Join(s.cwd[1:], "x"), s.takeAllocation()); r != nil {
		return r, nil
	}
	base := strings.TrimSpace(arg)
	if base == "" {
		base = "ferry"
	}
	if _, _, err := s.resolveNew(base); err != nil {
		return nil, err
	}
	q, err := s.quotaFor(ctx)
	if err != nil {
		return nil, err
	}
	if q != nil {
		if err := q.addFile(); err != nil {
			return nil, err
		}
	}
	var (
		wf    storage.WriteFile
		name  string
		vpath string
		t     *transfer
	)
	for i := 0; i < 10; i++ {
		vpath, name = s.clean(base + "." + randomToken()[:8])
		t = s.newTransfer(ctx, "STOU", vpath, true)
		wf, err = s.user.FS.Create(t.ctx, name, storage.CreateOptions{Exclusive: true})
		if !errors.Is(err, fs.ErrExist) {
			break
		}
		t.cancel()
	}
	if err != nil {
		t.cancel()
		if q != nil {
			q.release(0, 1)
		}
		return nil, err
	}
	if q != nil {
		wf = &quotaWriter{WriteFile: wf, q: q}
	}
	up := &upload{fsys: s.user.FS, wf: wf, tmp: name, final: name, q: q, counted: q != nil}
	return s.startUpload(t, up, "FILE: "+path.Base(vpath))
}

func randomToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errPastRange: the client sent more than the RANG range it announced
// (RFC 959's 552: exceeded storage allocation).
var errPastRange = reply(ftp.CodeExceededStorage, "More data than the RANG range announced.")

// rangeWriter writes at most left bytes: a STOR after RANG stops at the
// range's end point (552 for anything past it).
type rangeWriter struct {
	storage.WriteFile
	left int64
}

func (w *rangeWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > w.left {
		n, err := w.WriteFile.Write(p[:w.left])
		w.left -= int64(n)
		if err == nil {
			err = errPastRange
		}
		return n, err
	}
	n, err := w.WriteFile.Write(p)
	w.left -= int64(n)
	return n, err
}

// takeRangeEnd returns and clears the end point of a preceding RANG
// (exclusive; 0: none).
func (s *session) takeRangeEnd() int64 {
	n := s.rangeEnd
	s.rangeEnd = 0
	return n
}
