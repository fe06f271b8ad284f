package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io/fs"
	"net"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/storage"
)

// atomicPrefix names the hidden temporaries of atomic uploads; listings
// never show them and a restart removes stale ones.
const atomicPrefix = storage.UploadTempPrefix

// xferRecord is what the transfer log line reports.
type xferRecord struct {
	verb   string // RETR, STOR, APPE, STOU, LIST, NLST, MLSD
	upload bool   // data flows from the client
	vpath  string
	data   dataSetup
	tls    bool
}

func (s *session) cmdREST(arg string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64)
	if err != nil || n < 0 {
		return reply(ftp.CodeBadArguments, "REST needs a non-negative byte offset.")
	}
	s.restOffset = n
	return reply(ftp.CodeFilePending, "Restarting at "+strconv.FormatInt(n, 10)+". Send STOR or RETR to initiate transfer.")
}

// takeRest returns and clears the offset of a preceding REST.
func (s *session) takeRest() int64 {
	n := s.restOffset
	s.restOffset = 0
	return n
}

func (s *session) cmdABOR(string) error {
	s.closePassive()
	if s.endTransfer(true) {
		// The transfer goroutine has already answered 426 (RFC 959 4.1.3).
		return reply(ftp.CodeTransferComplete, "ABOR successful.")
	}
	return reply(ftp.CodeTransferComplete, "No transfer to abort.")
}

// runTransfer opens the data connection, announces it with 150, runs
// move, and answers 226 or the error. It runs in the transfer goroutine
// and always writes the final reply. settle, if not nil, is called with
// the outcome before that reply, so that what the client sees next (a
// listing, a retry) already reflects it: a failed upload's temporary is
// gone by the time the 4xx/5xx arrives.
func (s *session) runTransfer(ctx context.Context, t *transfer, rec xferRecord, opening string,
	move func(conn net.Conn) (int64, error), settle func(err error)) (n int64, err error) {
	start := time.Now()
	var final *ftp.Reply
	defer func() {
		if settle != nil {
			settle(err)
		}
		s.reply(final.Code, final.Msg)
		s.logTransfer(rec, n, start, err)
	}()
	conn, err := s.connectData(ctx, rec.data)
	if err != nil {
		final = reply(ftp.CodeCantOpenData, "Can't open data connection.")
		if s.isAborted(t) {
			final = reply(ftp.CodeTransferAborted, "Transfer aborted.")
		}
		return 0, err
	}
	// Closing the data connection on cancellation is what interrupts a
	// copy blocked in the kernel (ABOR, session end, shutdown).
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if rec.data.ready == nil {
		s.reply(ftp.CodeFileStatusOK, opening)
	}
	var batch *batchConn
	if rec.tls {
		var tc *tls.Conn
		if tc, batch, err = s.protectData(ctx, conn, rec.data.cmd); err != nil {
			switch {
			case s.isAborted(t):
				final = reply(ftp.CodeTransferAborted, "Transfer aborted.")
			case errors.Is(err, errTLSNoReuse):
				final = reply(ftp.CodeNetworkProtocol, "TLS session of data connection not resumed; the server requires session reuse.")
			default:
				final = reply(ftp.CodeCantOpenData, "TLS negotiation on the data connection failed.")
			}
			return 0, err
		}
		conn = tc
		if !rec.upload {
			batch.start()
		}
	}
	n, err = move(s.limitConn(ctx, conn, rec.upload))
	if batch != nil && err == nil {
		// A failed download's gathered tail is dropped by Close instead.
		if ferr := batch.stop(); ferr != nil {
			err = dataErr{ferr}
		}
	}
	cerr := conn.Close()
	if err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = dataErr{cerr}
	}
	switch {
	case s.isAborted(t):
		final = reply(ftp.CodeTransferAborted, "Transfer aborted.")
		if err == nil {
			err = context.Canceled
		}
	case err == nil:
		final = reply(ftp.CodeTransferComplete, "Transfer complete.")
	case errors.As(err, new(dataErr)) || ctx.Err() != nil:
		final = reply(ftp.CodeTransferAborted, "Connection closed; transfer aborted.")
	default:
		final = s.replyFor(err)
	}
	return n, err
}

// logTransfer writes the transfer log line.
func (s *session) logTransfer(rec xferRecord, n int64, start time.Time, err error) {
	result := "ok"
	if err != nil {
		result = err.Error()
	}
	s.log.Info("transfer", "verb", rec.verb, "path", rec.vpath, "bytes", n,
		"duration", time.Since(start).Round(time.Microsecond), "mode", rec.data.cmd,
		"tls", rec.tls, "result", result)
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

func (s *session) cmdRETR(arg string) error {
	if err := s.need(PermDownload); err != nil {
		return err
	}
	offset := s.takeRest()
	vpath, name := s.resolve(arg)
	f, err := s.user.FS.Open(s.ctx, name, offset)
	if err != nil {
		return err
	}
	fi, err := fileInfo(s.ctx, s.user.FS, f, name)
	if err != nil {
		_ = f.Close()
		return err
	}
	if offset > fi.Size() {
		_ = f.Close()
		return reply(ftp.CodeInvalidRestart, "Restart offset beyond end of file.")
	}
	d, err := s.takeData()
	if err != nil {
		_ = f.Close()
		return err
	}
	rec := xferRecord{verb: "RETR", vpath: vpath, data: d, tls: s.protP}
	ascii, stall, size := !s.binary, s.srv.cfg.DataStallTimeout, fi.Size()-offset
	opening := "Opening " + s.modeName() + " mode data connection for " + path.Base(vpath) +
		" (" + strconv.FormatInt(size, 10) + " bytes)."
	sent, done := s.tryInlineRETR(&d, f, size, rec, opening)
	if done {
		_ = f.Close()
		d.close()
		return nil
	}
	rec.data = d
	s.startTransfer(func(ctx context.Context, t *transfer) {
		defer f.Close()
		defer d.close()
		_, _ = s.runTransfer(ctx, t, rec, opening, func(conn net.Conn) (int64, error) {
			n, err := sendData(conn, f, size-sent, ascii, stall)
			return sent + n, err
		}, nil)
	})
	return nil
}

func (s *session) cmdSTOR(arg string) error { return s.store("STOR", arg, false) }
func (s *session) cmdAPPE(arg string) error { return s.store("APPE", arg, true) }

// upload is an upload in progress: where the bytes go and how they
// become visible.
type upload struct {
	wf       storage.WriteFile
	tmp      string      // the name being written
	final    string      // the name it gets; == tmp unless atomic
	atomic   bool        // rename tmp to final on success, remove it on failure
	replaced fs.FileInfo // the file an atomic upload replaces, if any
	q        *quotaUsage // the user's quota, or nil
	counted  bool        // a file was counted against q for this upload
	opening  string      // the 150 reply's text
}

// store implements STOR and APPE.
func (s *session) store(verb, arg string, appendMode bool) error {
	offset := s.takeRest()
	vpath, name := s.resolve(arg)
	if name == "." {
		return reply(ftp.CodeBadFileName, "File name not allowed.")
	}
	old, err := s.user.FS.Stat(s.ctx, name)
	switch {
	case err == nil:
		if old.IsDir() {
			return reply(ftp.CodeFileActionDenied, "Is a directory.")
		}
		if offset > old.Size() {
			return reply(ftp.CodeInvalidRestart, "Restart offset beyond end of file.")
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	case offset > 0:
		return reply(ftp.CodeInvalidRestart, "Restart offset beyond end of file.")
	default:
		old = nil
	}
	if err := s.need(PermUpload); err != nil {
		return err
	}
	if old != nil {
		if err := s.need(PermOverwrite); err != nil {
			return err
		}
	}
	if strings.HasPrefix(path.Base(vpath), atomicPrefix) {
		return reply(ftp.CodeBadFileName, "File name not allowed.")
	}
	up := upload{tmp: name, final: name, opening: "Ok to send data."}
	opts := storage.CreateOptions{Offset: offset, Append: appendMode}
	if s.srv.cfg.AtomicUploads && !appendMode && offset == 0 {
		// Readers must never see a partial file: write a hidden
		// temporary beside the target and rename it on success.
		up.atomic, up.replaced = true, old
		up.tmp = path.Join(path.Dir(name), atomicPrefix+randomToken())
		opts.Exclusive = true
	}
	if up.q, err = s.quotaFor(s.ctx); err != nil {
		return err
	}
	if up.q != nil {
		// A new name (or an atomic temporary) is one more file.
		if old == nil || up.atomic {
			if err := up.q.addFile(); err != nil {
				return err
			}
			up.counted = true
		}
	}
	if up.wf, err = s.user.FS.Create(s.ctx, up.tmp, opts); err != nil {
		up.releaseNew()
		return err
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
	return s.startUpload(verb, vpath, up)
}

// releaseNew gives back the file count taken for an upload that never started.
func (up *upload) releaseNew() {
	if up.counted {
		up.q.release(0, 1)
	}
}

// startUpload takes the data connection and runs the upload.
func (s *session) startUpload(verb, vpath string, up upload) error {
	d, err := s.takeData()
	if err != nil {
		s.discard(context.WithoutCancel(s.ctx), up)
		return err
	}
	rec := xferRecord{verb: verb, upload: true, vpath: vpath, data: d, tls: s.protP}
	s.startTransfer(func(ctx context.Context, t *transfer) { s.receive(ctx, t, rec, up) })
	return nil
}

// discard ends a failed upload: an atomic temporary is removed and its
// bytes and file given back; otherwise the partial file stays for a later
// REST to resume, as vsftpd and ProFTPD keep it.
func (s *session) discard(ctx context.Context, up upload) {
	_ = up.wf.Abort()
	if !up.atomic {
		return
	}
	_ = s.user.FS.Remove(ctx, up.tmp)
	up.uncharge()
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

// receive runs an upload and then makes it visible (atomic mode) or
// discards it on failure.
func (s *session) receive(ctx context.Context, t *transfer, rec xferRecord, up upload) {
	defer rec.data.close()
	fsys := s.user.FS
	ascii, stall := !s.binary, s.srv.cfg.DataStallTimeout
	closed := false
	// Cleanup must run even when ctx is cancelled by ABOR.
	bg := context.WithoutCancel(ctx)
	_, _ = s.runTransfer(ctx, t, rec, up.opening, func(conn net.Conn) (int64, error) {
		n, err := receiveData(conn, up.wf, ascii, stall)
		if err != nil || s.isAborted(t) {
			return n, err
		}
		// The file is stored only once Close succeeds (a full disk may
		// show up only here); the 226 waits for it.
		closed = true
		if err := up.wf.Close(); err != nil {
			return n, err
		}
		if up.atomic {
			if err := fsys.Rename(bg, up.tmp, up.final); err != nil {
				return n, err
			}
			if up.q != nil && up.replaced != nil {
				up.q.release(0, 1) // the replaced file's bytes went at the start
			}
		}
		return n, nil
	}, func(err error) {
		switch {
		case err == nil:
		case !closed:
			s.discard(bg, up)
		case up.atomic:
			// Closed but not renamed: the temporary must still go.
			_ = fsys.Remove(bg, up.tmp)
			up.uncharge()
		}
	})
}

// cmdSTOU stores under a name the server makes up (RFC 959; the reply
// format follows RFC 1123 4.1.2.9: "150 FILE: name").
func (s *session) cmdSTOU(arg string) error {
	if err := s.need(PermUpload); err != nil {
		return err
	}
	s.takeRest()
	base := strings.TrimSpace(arg)
	if base == "" {
		base = "ferry"
	}
	q, err := s.quotaFor(s.ctx)
	if err != nil {
		return err
	}
	if q != nil {
		if err := q.addFile(); err != nil {
			return err
		}
	}
	var (
		wf    storage.WriteFile
		name  string
		vpath string
	)
	for i := 0; i < 10; i++ {
		vpath, name = s.resolve(base + "." + randomToken()[:8])
		wf, err = s.user.FS.Create(s.ctx, name, storage.CreateOptions{Exclusive: true})
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		if q != nil {
			q.release(0, 1)
		}
		return err
	}
	if q != nil {
		wf = &quotaWriter{WriteFile: wf, q: q}
	}
	return s.startUpload("STOU", vpath, upload{wf: wf, tmp: name, final: name, q: q, counted: q != nil, opening: "FILE: " + path.Base(vpath)})
}

func randomToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
