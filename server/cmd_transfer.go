package server

import (
	"context"
	"crypto/rand"
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
const atomicPrefix = ".ferry-upload-"

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
// and always writes the final reply.
func (s *session) runTransfer(ctx context.Context, t *transfer, rec xferRecord, opening string,
	move func(conn net.Conn) (int64, error)) (n int64, err error) {
	start := time.Now()
	defer func() {
		result := "ok"
		if err != nil {
			result = err.Error()
		}
		s.log.Info("transfer", "verb", rec.verb, "path", rec.vpath, "bytes", n,
			"duration", time.Since(start).Round(time.Microsecond), "mode", rec.data.cmd,
			"tls", rec.tls, "result", result)
	}()
	conn, err := s.connectData(ctx, rec.data)
	if err != nil {
		if s.isAborted(t) {
			s.reply(ftp.CodeTransferAborted, "Transfer aborted.")
			return 0, err
		}
		s.reply(ftp.CodeCantOpenData, "Can't open data connection.")
		return 0, err
	}
	// Closing the data connection on cancellation is what interrupts a
	// copy blocked in the kernel (ABOR, session end, shutdown).
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	s.reply(ftp.CodeFileStatusOK, opening)
	if rec.tls {
		if conn, err = s.protectData(ctx, conn, rec.data.cmd); err != nil {
			switch {
			case s.isAborted(t):
				s.reply(ftp.CodeTransferAborted, "Transfer aborted.")
			case errors.Is(err, errTLSNoReuse):
				s.reply(ftp.CodeNetworkProtocol, "TLS session of data connection not resumed; the server requires session reuse.")
			default:
				s.reply(ftp.CodeCantOpenData, "TLS negotiation on the data connection failed.")
			}
			return 0, err
		}
	}
	n, err = move(s.limitConn(ctx, conn, rec.upload))
	cerr := conn.Close()
	if err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = dataErr{cerr}
	}
	switch {
	case s.isAborted(t):
		s.reply(ftp.CodeTransferAborted, "Transfer aborted.")
		if err == nil {
			err = context.Canceled
		}
	case err == nil:
		s.reply(ftp.CodeTransferComplete, "Transfer complete.")
	case errors.As(err, new(dataErr)) || ctx.Err() != nil:
		s.reply(ftp.CodeTransferAborted, "Connection closed; transfer aborted.")
	default:
		s.replyErr(err)
	}
	return n, err
}

func (s *session) modeName() string {
	if s.binary {
		return "BINARY"
	}
	return "ASCII"
}

func (s *session) cmdRETR(arg string) error {
	if err := s.need(PermDownload); err != nil {
		return err
	}
	offset := s.takeRest()
	fi, name, err := s.statFile(arg)
	if err != nil {
		return err
	}
	vpath, _ := s.resolve(arg)
	if offset > fi.Size() {
		return reply(ftp.CodeInvalidRestart, "Restart offset beyond end of file.")
	}
	f, err := s.user.FS.Open(s.ctx, name, offset)
	if err != nil {
		return err
	}
	d, err := s.takeData()
	if err != nil {
		_ = f.Close()
		return err
	}
	rec := xferRecord{verb: "RETR", vpath: vpath, data: d, tls: s.protP}
	ascii, stall := !s.binary, s.srv.cfg.DataStallTimeout
	opening := "Opening " + s.modeName() + " mode data connection for " + path.Base(vpath) +
		" (" + strconv.FormatInt(fi.Size()-offset, 10) + " bytes)."
	s.startTransfer(func(ctx context.Context, t *transfer) {
		defer f.Close()
		defer d.close()
		_, _ = s.runTransfer(ctx, t, rec, opening, func(conn net.Conn) (int64, error) {
			return sendData(conn, f, ascii, stall)
		})
	})
	return nil
}

func (s *session) cmdSTOR(arg string) error { return s.store("STOR", arg, false) }
func (s *session) cmdAPPE(arg string) error { return s.store("APPE", arg, true) }

// store implements STOR and APPE.
func (s *session) store(verb, arg string, appendMode bool) error {
	offset := s.takeRest()
	vpath, name := s.resolve(arg)
	if name == "." {
		return reply(ftp.CodeBadFileName, "File name not allowed.")
	}
	exists := false
	if fi, err := s.user.FS.Stat(s.ctx, name); err == nil {
		if fi.IsDir() {
			return reply(ftp.CodeFileActionDenied, "Is a directory.")
		}
		if offset > fi.Size() {
			return reply(ftp.CodeInvalidRestart, "Restart offset beyond end of file.")
		}
		exists = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	} else if offset > 0 {
		return reply(ftp.CodeInvalidRestart, "Restart offset beyond end of file.")
	}
	if err := s.need(PermUpload); err != nil {
		return err
	}
	if exists {
		if err := s.need(PermOverwrite); err != nil {
			return err
		}
	}
	if strings.HasPrefix(path.Base(vpath), atomicPrefix) {
		return reply(ftp.CodeBadFileName, "File name not allowed.")
	}
	opts := storage.CreateOptions{Offset: offset, Append: appendMode}
	target := name
	atomic := s.srv.cfg.AtomicUploads && !appendMode && offset == 0
	if atomic {
		// Readers must never see a partial file: write a hidden
		// temporary beside the target and rename it on success.
		target = path.Join(path.Dir(name), atomicPrefix+randomToken())
		opts.Exclusive = true
	}
	wf, err := s.user.FS.Create(s.ctx, target, opts)
	if err != nil {
		return err
	}
	d, err := s.takeData()
	if err != nil {
		_ = wf.Abort()
		if atomic {
			_ = s.user.FS.Remove(context.WithoutCancel(s.ctx), target)
		}
		return err
	}
	s.startTransfer(func(ctx context.Context, t *transfer) {
		s.receive(ctx, t, xferRecord{verb: verb, upload: true, vpath: vpath, data: d, tls: s.protP},
			wf, target, name, atomic, "Ok to send data.")
	})
	return nil
}

// receive runs an upload and then makes it visible (atomic mode) or
// discards it on failure.
func (s *session) receive(ctx context.Context, t *transfer, rec xferRecord, wf storage.WriteFile,
	tmp, final string, atomic bool, opening string) {
	defer rec.data.close()
	fsys := s.user.FS
	ascii, stall := !s.binary, s.srv.cfg.DataStallTimeout
	committed := false
	// Cleanup must run even when ctx is cancelled by ABOR.
	bg := context.WithoutCancel(ctx)
	_, _ = s.runTransfer(ctx, t, rec, opening, func(conn net.Conn) (int64, error) {
		n, err := receiveData(conn, wf, ascii, stall)
		if err != nil || s.isAborted(t) {
			return n, err
		}
		// The file is stored only once Close succeeds (a full disk may
		// show up only here); the 226 waits for it.
		committed = true
		if err := wf.Close(); err != nil {
			if atomic {
				_ = fsys.Remove(bg, tmp)
			}
			return n, err
		}
		if atomic {
			if err := fsys.Rename(bg, tmp, final); err != nil {
				_ = fsys.Remove(bg, tmp)
				return n, err
			}
		}
		return n, nil
	})
	if !committed {
		_ = wf.Abort()
		if atomic {
			_ = fsys.Remove(bg, tmp)
		}
	}
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
	var (
		wf    storage.WriteFile
		name  string
		vpath string
		err   error
	)
	for i := 0; i < 10; i++ {
		vpath, name = s.resolve(base + "." + randomToken()[:8])
		wf, err = s.user.FS.Create(s.ctx, name, storage.CreateOptions{Exclusive: true})
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return err
	}
	d, err := s.takeData()
	if err != nil {
		_ = wf.Abort()
		_ = s.user.FS.Remove(s.ctx, name)
		return err
	}
	s.startTransfer(func(ctx context.Context, t *transfer) {
		s.receive(ctx, t, xferRecord{verb: "STOU", upload: true, vpath: vpath, data: d, tls: s.protP},
			wf, name, name, false, "FILE: "+path.Base(vpath))
	})
	return nil
}

func randomToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
