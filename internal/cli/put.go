package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ferry-ftp/ferry/ftp"
)

// PutCmd is `ferry put`.
type PutCmd struct {
	Args []string `arg:"" placeholder:"FILE... URL" help:"Local files (directories with -r), then the ftp:// or ftps:// URL of the target file or directory."`

	Recursive bool `short:"r" help:"Upload directory trees."`
	Continue  bool `short:"c" help:"Resume: send only what the server's copy lacks (REST+STOR, or APPE if REST is refused)."`
	Verify    bool `help:"After each file, compare with the server's SHA-256 (HASH) when offered, else its SIZE."`
	Quiet     bool `short:"q" help:"No progress output."`
	ConnFlags `embed:""`
}

// Help is shown by ferry put --help.
func (c *PutCmd) Help() string { return exitCodesHelp }

// Run uploads.
func (c *PutCmd) Run(ctx context.Context, env *Env) error {
	if len(c.Args) < 2 || !isURL(c.Args[len(c.Args)-1]) {
		return usagef("put wants FILE... URL, the URL last")
	}
	files, rawURL := c.Args[:len(c.Args)-1], c.Args[len(c.Args)-1]
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return err
		}
		if fi.IsDir() && !c.Recursive {
			return usagef("%s is a directory; use -r to upload a tree", f)
		}
	}
	s, err := c.connect(ctx, env, rawURL)
	if err != nil {
		return finish(modeOf(c.Mode), err)
	}
	defer s.close(ctx)
	m := newMeter(ctx, env, c.Quiet)
	err = c.put(ctx, s, files, xferOpts{resume: c.Continue, verify: c.Verify, meter: m})
	m.wait()
	return finish(s.mode, err)
}

func (c *PutCmd) put(ctx context.Context, s *session, files []string, o xferOpts) error {
	dst := s.remote.Path
	intoDir := len(files) > 1 || s.remote.Dir || s.isDir(ctx, dst)
	if len(files) > 1 && !intoDir {
		return fmt.Errorf("%s is not a directory on the server", displayRemote(dst))
	}
	var errs []error
	for _, f := range files {
		target := dst
		if intoDir {
			target = joinRemote(dst, filepath.Base(f))
		}
		if fi, err := os.Stat(f); err == nil && fi.IsDir() {
			t, err := walkLocal(f)
			if err == nil {
				err = uploadTree(ctx, nil, s, 1, f, target, t, nil, t.sortedFiles(), o)
			}
			errs = append(errs, err)
			continue
		}
		errs = append(errs, upload(ctx, s, f, target, o, target))
	}
	return errors.Join(errs...)
}

// upload sends the local file to remote. With o.resume it asks the
// server's SIZE and sends the rest: REST then STOR, or APPE if the
// server refuses REST for uploads.
func upload(ctx context.Context, s *session, local, remote string, o xferOpts, name string) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	var offset int64
	if o.resume {
		if n, err := s.Size(ctx, remote); err == nil && n <= fi.Size() {
			offset = n
		}
	}
	if offset == 0 || offset < fi.Size() {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return err
		}
		t := o.meter.start(name, fi.Size(), offset)
		var r io.Reader = f
		if o.text {
			r = ftp.NewCRLFReader(f)
		}
		_, err = s.Store(ctx, remote, io.TeeReader(r, t), offset)
		if offset > 0 && restRefused(err) {
			if _, err = f.Seek(offset, io.SeekStart); err == nil {
				_, err = s.Append(ctx, remote, io.TeeReader(f, t))
			}
		}
		t.done(err)
		if err != nil {
			return fmt.Errorf("put %s: %w", remote, err)
		}
	}
	if o.setTime {
		// A server without MFMT (or MDTM with two arguments) keeps the
		// upload's time; mirror then compares by "newer than".
		if err := s.SetModTime(ctx, remote, fi.ModTime()); err != nil {
			if !errors.As(err, new(*ftp.Reply)) {
				return err
			}
		}
	}
	if o.verify {
		return verify(ctx, s, remote, local)
	}
	return nil
}

// restRefused reports whether err is a refusal of REST itself (500,
// 501, 502, 504), not of the transfer: the server cannot resume uploads
// that way, and APPE is the other way.
func restRefused(err error) bool {
	var rep *ftp.Reply
	if !errors.As(err, &rep) {
		return false
	}
	switch rep.Code {
	case 500, 501, 502, 504:
		return true
	}
	return false
}
