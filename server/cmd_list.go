package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/storage"
)

// listBatch is how many entries a listing asks storage for at a time; a
// directory of a million entries streams through this window.
const listBatch = 512

// listFormat selects a listing's line format.
type listFormat int

const (
	formatList  listFormat = iota // LIST, STAT path: ls -l lines
	formatNames                   // NLST: names only
	formatMLSD                    // MLSD: RFC 3659 fact lines
)

// listOptions parses LIST/NLST/STAT arguments: leading "-" words are ls
// options (only -a changes anything: dot files are shown), the rest is
// the path. "--" ends the options, as in ls, so that "LIST -- -la"
// lists a directory named "-la".
func listOptions(arg string) (all bool, p string) {
	arg = strings.TrimLeft(arg, " ")
	for strings.HasPrefix(arg, "-") {
		opt, rest, _ := strings.Cut(arg, " ")
		arg = strings.TrimLeft(rest, " ")
		if opt == "--" {
			break
		}
		if strings.Contains(opt, "a") || strings.Contains(opt, "A") {
			all = true
		}
	}
	return all, arg
}

func (s *session) cmdLIST(ctx context.Context, arg string) (*ftp.Reply, error) {
	all, p := listOptions(arg)
	return s.listing(ctx, "LIST", p, formatList, all || s.srv.cfg.ListHidden)
}

func (s *session) cmdNLST(ctx context.Context, arg string) (*ftp.Reply, error) {
	all, p := listOptions(arg)
	return s.listing(ctx, "NLST", p, formatNames, all || s.srv.cfg.ListHidden)
}

func (s *session) cmdMLSD(ctx context.Context, arg string) (*ftp.Reply, error) {
	_, name, err := s.resolve(arg)
	if err != nil {
		return nil, err
	}
	fi, err := s.statFollow(ctx, name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		// RFC 3659 7.2.1: MLSD of a non-directory is an error. The path
		// stays out of the reply, as it does from every reply.
		return reply(ftp.CodeFileActionDenied, "Not a directory."), nil
	}
	return s.listing(ctx, "MLSD", arg, formatMLSD, true)
}

// listing sends a directory (or a single file) over a data connection.
func (s *session) listing(ctx context.Context, verb, arg string, format listFormat, all bool) (*ftp.Reply, error) {
	if err := s.need(PermList); err != nil {
		return nil, err
	}
	vpath, _, err := s.resolve(arg)
	if err != nil {
		return nil, err
	}
	t := s.newTransfer(ctx, verb, vpath, false)
	return t.unlessRefused(s.startListing(t, arg, format, all))
}

func (s *session) startListing(t *transfer, arg string, format listFormat, all bool) (*ftp.Reply, error) {
	var target listTarget
	var err error
	if format == formatMLSD {
		// MLSD's argument is a directory, never a pattern (RFC 3659 7.1).
		_, name, _ := s.resolve(arg)
		target.fi, err = s.statFollow(t.ctx, name)
		if err == nil {
			target.dir, err = s.user.FS.ReadDir(t.ctx, name)
		}
	} else {
		target, err = s.openListing(t.ctx, arg)
	}
	if err != nil {
		return nil, err
	}
	fi, dir := target.fi, target.dir
	all = all || target.glob
	if dir != nil {
		t.release = func() { _ = dir.Close() }
	}
	var r *ftp.Reply
	if t.data, r = s.data.take(); r != nil {
		if dir != nil {
			_ = dir.Close()
		}
		return r, nil
	}
	t.opening = "Here comes the directory listing."
	lw := s.lineWriter(format, all)
	t.move = func(ctx context.Context, conn net.Conn) (int64, error) {
		bw := bufio.NewWriterSize(conn, 32<<10)
		n, err := lw.write(ctx, &countWriter{w: bw, n: &t.moved}, fi, dir)
		if err == nil {
			err = bw.Flush()
		}
		if err != nil && !errors.As(err, new(dataErr)) && isNetErr(err) {
			err = dataErr{err}
		}
		return n, err
	}
	s.runTransfer(t)
	return nil, nil
}

func isNetErr(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) || timeoutError(err) || errors.Is(err, net.ErrClosed)
}

// lineWriter formats listing lines for one session's settings.
type lineWriter struct {
	format listFormat
	all    bool
	facts  ftp.Facts
	// The perm fact depends only on the user and the entry's kind, so it
	// is made once per listing, not once per entry.
	permFile, permDir string
	now               time.Time
	buf               []byte
}

func (s *session) lineWriter(format listFormat, all bool) *lineWriter {
	return &lineWriter{format: format, all: all, facts: s.mlstFacts, now: time.Now(),
		permFile: permFact(false, s.user.Perms), permDir: permFact(true, s.user.Perms)}
}

// write streams entries: the single file fi when dir is nil, else every
// entry of dir, batch by batch. MLSD starts with the directory itself.
func (lw *lineWriter) write(ctx context.Context, w io.Writer, fi fs.FileInfo, dir storage.DirReader) (int64, error) {
	var total int64
	emit := func() error {
		n, err := w.Write(lw.buf)
		total += int64(n)
		lw.buf = lw.buf[:0]
		return err
	}
	if dir == nil {
		lw.line(fi, fi.Name(), "")
		return total, emit()
	}
	if lw.format == formatMLSD {
		lw.line(fi, ".", "cdir")
	}
	if nr, ok := dir.(storage.NameReader); ok && lw.format == formatNames {
		return lw.writeNames(ctx, nr, emit, &total)
	}
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		batch, err := dir.Next(listBatch)
		for _, e := range batch {
			name := e.Name()
			if lw.hidden(name) {
				continue
			}
			lw.line(e, name, "")
		}
		if werr := emit(); werr != nil {
			return total, werr
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// writeNames streams an NLST listing from names alone, where the backend
// can give them without a stat per entry (getdents64 only).
func (lw *lineWriter) writeNames(ctx context.Context, nr storage.NameReader, emit func() error, total *int64) (int64, error) {
	for {
		if err := ctx.Err(); err != nil {
			return *total, err
		}
		batch, err := nr.NextNames(listBatch)
		for _, name := range batch {
			if lw.hidden(name) {
				continue
			}
			lw.buf = ftp.AppendNameLine(lw.buf, name)
		}
		if werr := emit(); werr != nil {
			return *total, werr
		}
		if errors.Is(err, io.EOF) {
			return *total, nil
		}
		if err != nil {
			return *total, err
		}
	}
}

// hidden reports whether a listing leaves name out: an atomic upload's
// temporary always, a dot file unless -a was asked for.
func (lw *lineWriter) hidden(name string) bool {
	return strings.HasPrefix(name, atomicPrefix) || !lw.all && strings.HasPrefix(name, ".")
}

func (lw *lineWriter) line(fi fs.FileInfo, name, kind string) {
	switch lw.format {
	case formatNames:
		lw.buf = ftp.AppendNameLine(lw.buf, name)
	case formatMLSD:
		perm := lw.permFile
		if fi.IsDir() {
			perm = lw.permDir
		}
		lw.buf = ftp.AppendFacts(lw.buf, fi, name, kind, lw.facts, perm)
	default:
		lw.buf = ftp.AppendListLine(lw.buf, fi, lw.now)
	}
}

// permFact is the RFC 3659 7.5.5 perm fact: what this user may do.
func permFact(dir bool, p Perm) string {
	var b []byte
	if dir {
		if p.Has(PermUpload) {
			b = append(b, 'c')
		}
		if p.Has(PermDelete) || p.Has(PermRmdir) {
			b = append(b, 'd')
		}
		b = append(b, 'e')
		if p.Has(PermRename) {
			b = append(b, 'f')
		}
		if p.Has(PermList) {
			b = append(b, 'l')
		}
		if p.Has(PermMkdir) {
			b = append(b, 'm')
		}
		if p.Has(PermDelete) {
			b = append(b, 'p')
		}
		return string(b)
	}
	if p.Has(PermUpload | PermOverwrite) {
		b = append(b, 'a')
	}
	if p.Has(PermDelete) {
		b = append(b, 'd')
	}
	if p.Has(PermRename) {
		b = append(b, 'f')
	}
	if p.Has(PermDownload) {
		b = append(b, 'r')
	}
	if p.Has(PermOverwrite) {
		b = append(b, 'w')
	}
	return string(b)
}

// cmdMLST describes one path over the control connection (RFC 3659 7.2).
func (s *session) cmdMLST(ctx context.Context, arg string) (*ftp.Reply, error) {
	if err := s.need(PermList); err != nil {
		return nil, err
	}
	vpath, name, err := s.resolve(arg)
	if err != nil {
		return nil, err
	}
	fi, err := s.user.FS.Stat(ctx, name)
	if err != nil {
		return nil, err
	}
	line := ftp.AppendFacts(nil, fi, vpath, "", s.mlstFacts, permFact(fi.IsDir(), s.user.Perms))
	body := strings.TrimRight(string(line), "\r\n")
	// The fact line starts with a space inside the multi-line reply,
	// as ftp.Format writes every line between the first and the last.
	return reply(ftp.CodeFileActionOK, "Listing "+sanitize(vpath)+"\n"+body+"\nEnd."), nil
}

// cmdSTAT without argument reports the session; with one it lists the
// path over the control connection (RFC 959 4.1.3), which needs no data
// connection and so works through any firewall. During a transfer it
// reports the transfer's progress, whatever the argument (RFC 959 4.1.3:
// "the status of the operation in progress").
func (s *session) cmdSTAT(ctx context.Context, arg string) (*ftp.Reply, error) {
	if strings.TrimSpace(arg) == "" || s.transfer() != nil {
		return s.statSession(), nil
	}
	if s.user == nil {
		return reply(ftp.CodeNotLoggedIn, "Please login with USER and PASS."), nil
	}
	if err := s.need(PermList); err != nil {
		return nil, err
	}
	all, p := listOptions(arg)
	target, err := s.openListing(ctx, p)
	if err != nil {
		return nil, err
	}
	fi, dir := target.fi, target.dir
	all = all || target.glob
	if dir != nil {
		defer dir.Close()
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(replyWriteTimeout))
	bw := bufio.NewWriterSize(s.conn, 16<<10)
	_, _ = bw.WriteString("213-Status of " + sanitize(p) + ":\r\n")
	lw := s.lineWriter(formatList, all || s.srv.cfg.ListHidden)
	if _, err := lw.write(ctx, bw, fi, dir); err != nil {
		s.log.Debug("STAT listing cut short", "err", err)
	}
	_, _ = bw.WriteString("213 End of status.\r\n")
	if err := bw.Flush(); err != nil {
		s.log.Debug("STAT reply cut short", "err", err)
	}
	return nil, nil
}

func (s *session) statSession() *ftp.Reply {
	var b strings.Builder
	b.WriteString("ferry FTP server status:\n")
	b.WriteString("     Connected to " + s.remote.String() + "\n")
	if s.user != nil {
		b.WriteString("     Logged in as " + sanitize(s.user.Name) + "\n")
	} else {
		b.WriteString("     Not logged in\n")
	}
	b.WriteString("     TYPE: " + s.modeName() + ", STRUcture: File, MODE: Stream\n")
	if s.tlsControl {
		prot := "Clear"
		if s.data.protP {
			prot = "Private"
		}
		b.WriteString("     Control connection: TLS; data protection: " + prot + "\n")
	} else {
		b.WriteString("     Control connection: plain text\n")
	}
	if t := s.transfer(); t != nil {
		b.WriteString("     Transfer in progress: " + t.status() + "\n")
	} else {
		b.WriteString("     " + s.data.status() + "\n")
	}
	b.WriteString("End of status")
	return reply(ftp.CodeSystemStatus, b.String())
}
