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

// listOptions parses LIST/NLST arguments: leading "-" words are ls
// options (only -a changes anything: dot files are shown), the rest is
// the path. A path that itself starts with "-" is not supported, as in
// most servers.
func listOptions(arg string) (all bool, p string) {
	arg = strings.TrimLeft(arg, " ")
	for strings.HasPrefix(arg, "-") {
		opt, rest, _ := strings.Cut(arg, " ")
		if strings.Contains(opt, "a") || strings.Contains(opt, "A") {
			all = true
		}
		arg = strings.TrimLeft(rest, " ")
	}
	return all, arg
}

func (s *session) cmdLIST(arg string) error {
	all, p := listOptions(arg)
	return s.listing("LIST", p, formatList, all || s.srv.cfg.ListHidden)
}

func (s *session) cmdNLST(arg string) error {
	all, p := listOptions(arg)
	return s.listing("NLST", p, formatNames, all || s.srv.cfg.ListHidden)
}

func (s *session) cmdMLSD(arg string) error {
	vpath, name := s.resolve(arg)
	fi, err := s.user.FS.Stat(s.ctx, name)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		// RFC 3659 7.2.1: MLSD of a non-directory is an error.
		return reply(ftp.CodeFileActionDenied, vpath+": not a directory.")
	}
	return s.listing("MLSD", arg, formatMLSD, true)
}

// listing sends a directory (or a single file) over a data connection.
func (s *session) listing(verb, arg string, format listFormat, all bool) error {
	if err := s.need(PermList); err != nil {
		return err
	}
	vpath, name := s.resolve(arg)
	fi, err := s.user.FS.Stat(s.ctx, name)
	if err != nil {
		return err
	}
	var dir storage.DirReader
	if fi.IsDir() {
		if dir, err = s.user.FS.ReadDir(s.ctx, name); err != nil {
			return err
		}
	}
	d, err := s.takeData()
	if err != nil {
		if dir != nil {
			_ = dir.Close()
		}
		return err
	}
	lw := s.lineWriter(format, all)
	rec := xferRecord{verb: verb, vpath: vpath, data: d, tls: s.protP}
	s.startTransfer(func(ctx context.Context, t *transfer) {
		defer d.close()
		if dir != nil {
			defer dir.Close()
		}
		_, _ = s.runTransfer(ctx, t, rec, "Here comes the directory listing.", func(conn net.Conn) (int64, error) {
			bw := bufio.NewWriterSize(&stallConn{conn: conn, stall: s.srv.cfg.DataStallTimeout}, 32<<10)
			n, err := lw.write(ctx, bw, fi, dir)
			if err == nil {
				err = bw.Flush()
			}
			if err != nil && !errors.As(err, new(dataErr)) && isNetErr(err) {
				err = dataErr{err}
			}
			return n, err
		}, nil)
	})
	return nil
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
func (s *session) cmdMLST(arg string) error {
	if err := s.need(PermList); err != nil {
		return err
	}
	vpath, name := s.resolve(arg)
	fi, err := s.user.FS.Stat(s.ctx, name)
	if err != nil {
		return err
	}
	line := ftp.AppendFacts(nil, fi, vpath, "", s.mlstFacts, permFact(fi.IsDir(), s.user.Perms))
	body := strings.TrimRight(string(line), "\r\n")
	// The fact line starts with a space inside the multi-line reply.
	s.writeRaw([]byte("250-Listing " + sanitize(vpath) + "\r\n " + body + "\r\n250 End.\r\n"))
	return nil
}

// cmdSTAT without argument reports the session; with one it lists the
// path over the control connection (RFC 959 4.1.3), which needs no data
// connection and so works through any firewall.
func (s *session) cmdSTAT(arg string) error {
	if strings.TrimSpace(arg) == "" {
		return s.statSession()
	}
	if s.user == nil {
		return reply(ftp.CodeNotLoggedIn, "Please login with USER and PASS.")
	}
	if s.transferring() {
		return reply(ftp.CodeBadSequence, "A transfer is in progress.")
	}
	if err := s.need(PermList); err != nil {
		return err
	}
	all, p := listOptions(arg)
	_, name := s.resolve(p)
	fi, err := s.user.FS.Stat(s.ctx, name)
	if err != nil {
		return err
	}
	var dir storage.DirReader
	if fi.IsDir() {
		if dir, err = s.user.FS.ReadDir(s.ctx, name); err != nil {
			return err
		}
		defer dir.Close()
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(replyWriteTimeout))
	bw := bufio.NewWriterSize(s.conn, 16<<10)
	_, _ = bw.WriteString("213-Status of " + sanitize(p) + ":\r\n")
	lw := s.lineWriter(formatList, all || s.srv.cfg.ListHidden)
	if _, err := lw.write(s.ctx, bw, fi, dir); err != nil {
		s.log.Debug("STAT listing cut short", "err", err)
	}
	_, _ = bw.WriteString("213 End of status.\r\n")
	return bw.Flush()
}

func (s *session) statSession() error {
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
		if s.protP {
			prot = "Private"
		}
		b.WriteString("     Control connection: TLS; data protection: " + prot + "\n")
	} else {
		b.WriteString("     Control connection: plain text\n")
	}
	switch {
	case s.transferring():
		b.WriteString("     A transfer is in progress\n")
	case s.pasv != nil:
		b.WriteString("     Waiting for a data connection (" + s.dataCmd + ")\n")
	case s.active.IsValid():
		b.WriteString("     Data connection will go to " + s.active.String() + " (" + s.dataCmd + ")\n")
	default:
		b.WriteString("     No data connection\n")
	}
	b.WriteString("End of status")
	return reply(ftp.CodeSystemStatus, b.String())
}
