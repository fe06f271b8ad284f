package cli

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/client"
	"github.com/ferry-ftp/ferry/ftp"
)

// GetCmd is `ferry get`.
type GetCmd struct {
	URL  string `arg:"" placeholder:"URL" help:"ftp:// or ftps:// URL of a file, or of a directory with -r."`
	Dest string `arg:"" optional:"" placeholder:"DEST" help:"Local file or directory; default: the remote name in the current directory."`

	Recursive bool `short:"r" help:"Download a directory tree."`
	Continue  bool `short:"c" help:"Resume: keep what a partial local file holds and fetch the rest (REST)."`
	Verify    bool `help:"After each file, compare with the server's SHA-256 (HASH) when offered, else its SIZE."`
	Quiet     bool `short:"q" help:"No progress output."`
	ConnFlags `embed:""`
}

// Help is shown by ferry get --help.
func (c *GetCmd) Help() string { return exitCodesHelp }

// xferOpts are the choices every transfer shares.
type xferOpts struct {
	resume  bool
	verify  bool
	setTime bool // set the remote file's time to the local one's after an upload
	text    bool // ASCII type: convert CRLF on the wire to and from local LF (the shell's ascii)
	meter   *meter
}

// Run downloads.
func (c *GetCmd) Run(ctx context.Context, env *Env) error {
	s, err := c.connect(ctx, env, c.URL)
	if err != nil {
		return finish(modeOf(c.Mode), err)
	}
	defer s.close(ctx)
	m := newMeter(ctx, env, c.Quiet)
	err = c.get(ctx, s, xferOpts{resume: c.Continue, verify: c.Verify, meter: m})
	m.wait()
	return finish(s.mode, err)
}

func (c *GetCmd) get(ctx context.Context, s *session, o xferOpts) error {
	src := s.remote.Path
	if c.Recursive {
		if !s.isDir(ctx, src) {
			return fmt.Errorf("%s is not a directory on the server", displayRemote(src))
		}
		dest := c.Dest
		if dest == "" {
			dest = path.Base(strings.TrimSuffix(src, "/"))
			if src == "" || dest == "/" || dest == "." {
				dest = "."
			}
		}
		files, err := walkRemote(ctx, s, src)
		if err != nil {
			return err
		}
		return downloadTree(ctx, nil, s, 1, src, dest, files, files.sortedFiles(), o)
	}
	if src == "" || s.remote.Dir {
		return usagef("%s names a directory; use -r to download a tree", displayRemote(src))
	}
	size, err := s.Size(ctx, src)
	if err != nil {
		size = -1
		if _, ok := err.(*ftp.Reply); ok && s.isDir(ctx, src) {
			return usagef("%s is a directory; use -r to download a tree", src)
		}
	}
	dest := c.Dest
	if dest == "" {
		dest = path.Base(src)
	} else if fi, err := os.Stat(dest); (err == nil && fi.IsDir()) || strings.HasSuffix(dest, string(filepath.Separator)) {
		dest = filepath.Join(dest, path.Base(src))
	}
	mtime, _ := s.ModTime(ctx, src)
	return download(ctx, s, src, dest, size, mtime, o, dest)
}

// displayRemote names a remote path in messages.
func displayRemote(p string) string {
	if p == "" {
		return "the login directory"
	}
	return p
}

// download fetches remote into local. size is the remote size or -1;
// mtime, if not zero, becomes the local file's modification time. With
// o.resume an existing shorter local file is continued with REST.
func download(ctx context.Context, s *session, remote, local string, size int64, mtime time.Time, o xferOpts, name string) error {
	var offset int64
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if o.resume {
		if fi, err := os.Stat(local); err == nil && fi.Mode().IsRegular() && (size < 0 || fi.Size() <= size) {
			offset, flags = fi.Size(), os.O_WRONLY
		}
	}
	_, statErr := os.Lstat(local)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(local, flags, 0o644)
	if err != nil {
		return err
	}
	if offset > 0 && offset == size {
		f.Close() // complete already
	} else {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return err
		}
		t := o.meter.start(name, size, offset)
		var w io.Writer = f
		var text *ftp.LFWriter
		if o.text {
			text = ftp.NewLFWriter(f)
			w = text
		}
		n, err := s.Retrieve(ctx, remote, offset, io.MultiWriter(w, t))
		if text != nil && err == nil {
			err = text.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		t.done(err)
		if err != nil {
			if created && n == 0 {
				os.Remove(local) // nothing came: leave no empty file behind
			}
			return fmt.Errorf("get %s: %w", remote, err)
		}
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(local, mtime, mtime); err != nil {
			return err
		}
	}
	if o.verify {
		return verify(ctx, s, remote, local)
	}
	return nil
}

// verify compares the server's copy of remote with the local file:
// SHA-256 through HASH when the server offers it, and SIZE.
func verify(ctx context.Context, s *session, remote, local string) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	var sum []byte
	if strings.Contains(strings.ToUpper(s.Features()["HASH"]), "SHA-256") {
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		sum = h.Sum(nil)
	}
	checked, err := s.Verify(ctx, remote, fi.Size(), sum)
	if err != nil {
		return err
	}
	if len(checked) == 0 {
		return fmt.Errorf("%w: %s: the server offers neither HASH nor SIZE to check against", client.ErrVerification, remote)
	}
	return nil
}
