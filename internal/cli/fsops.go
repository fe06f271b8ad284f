package cli

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
)

// RmCmd is `ferry rm`.
type RmCmd struct {
	URLs      []string `arg:"" name:"url" placeholder:"URL" help:"ftp:// or ftps:// URLs of files to remove (directories with -r)."`
	Recursive bool     `short:"r" help:"Remove directories and everything in them."`
	ConnFlags `embed:""`
}

// MkdirCmd is `ferry mkdir`.
type MkdirCmd struct {
	URLs      []string `arg:"" name:"url" placeholder:"URL" help:"ftp:// or ftps:// URLs of directories to create."`
	Parents   bool     `short:"p" help:"Create missing parents; an existing directory is no error."`
	ConnFlags `embed:""`
}

// MvCmd is `ferry mv`.
type MvCmd struct {
	Src       string `arg:"" placeholder:"URL" help:"ftp:// or ftps:// URL of the file or directory to rename."`
	Dst       string `arg:"" placeholder:"DST" help:"New name: a URL on the same server, an absolute path, or a path relative to SRC's directory."`
	ConnFlags `embed:""`
}

// CatCmd is `ferry cat`.
type CatCmd struct {
	URLs      []string `arg:"" name:"url" placeholder:"URL" help:"ftp:// or ftps:// URLs of files to write to stdout."`
	ConnFlags `embed:""`
}

// Help texts name the exit codes.
func (c *RmCmd) Help() string    { return exitCodesHelp }
func (c *MkdirCmd) Help() string { return exitCodesHelp }
func (c *MvCmd) Help() string    { return exitCodesHelp }
func (c *CatCmd) Help() string   { return exitCodesHelp }

// eachURL runs do on every URL, reusing one session for URLs of the
// same server and user. It goes on after a failure and returns them
// joined.
func (f *ConnFlags) eachURL(ctx context.Context, env *Env, urls []string, do func(context.Context, *session, string) error) error {
	sessions := map[Remote]*session{}
	defer func() {
		for _, s := range sessions {
			s.close(ctx)
		}
	}()
	var errs []error
	for _, u := range urls {
		r, err := ParseRemote(u)
		if err != nil {
			return usageError{err}
		}
		key := Remote{Host: r.Host, User: r.User, Password: r.Password, Implicit: r.Implicit}
		s := sessions[key]
		if s == nil {
			d, err := f.newDialer(env, r)
			if err != nil {
				return err
			}
			if s, err = d.dial(ctx); err != nil {
				return err // the next URL of this server would fail the same way
			}
			sessions[key] = s
		}
		if err := do(ctx, s, r.Path); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run removes.
func (c *RmCmd) Run(ctx context.Context, env *Env) error {
	err := c.eachURL(ctx, env, c.URLs, func(ctx context.Context, s *session, p string) error {
		if p == "" || p == "/" {
			return usagef("refusing to remove %s", displayRemote(p))
		}
		err := s.Delete(ctx, p)
		if err != nil && s.isDir(ctx, p) {
			if !c.Recursive {
				return usagef("%s is a directory; use -r", p)
			}
			return removeRemoteTree(ctx, s, p)
		}
		if err != nil {
			return fmt.Errorf("rm %s: %w", p, err)
		}
		return nil
	})
	return finish(modeOf(c.Mode), err)
}

// Run creates directories.
func (c *MkdirCmd) Run(ctx context.Context, env *Env) error {
	err := c.eachURL(ctx, env, c.URLs, func(ctx context.Context, s *session, p string) error {
		if c.Parents {
			return mkdirAllRemote(ctx, s, p)
		}
		if _, err := s.Mkdir(ctx, p); err != nil {
			return fmt.Errorf("mkdir %s: %w", p, err)
		}
		return nil
	})
	return finish(modeOf(c.Mode), err)
}

// Run renames.
func (c *MvCmd) Run(ctx context.Context, env *Env) error {
	r, err := ParseRemote(c.Src)
	if err != nil {
		return usageError{err}
	}
	to := c.Dst
	if isURL(to) {
		d, err := ParseRemote(to)
		if err != nil {
			return usageError{err}
		}
		if d.Host != r.Host || d.Implicit != r.Implicit {
			return usagef("mv renames on one server; %s and %s differ", r.Host, d.Host)
		}
		to = d.Path
	} else if !strings.HasPrefix(to, "/") {
		to = joinRemote(path.Dir(r.Path), to)
		if path.Dir(r.Path) == "." {
			to = c.Dst
		}
	}
	if r.Path == "" || to == "" {
		return usagef("mv wants a source and a destination path")
	}
	err = c.eachURL(ctx, env, []string{c.Src}, func(ctx context.Context, s *session, p string) error {
		if err := s.Rename(ctx, p, to); err != nil {
			return fmt.Errorf("mv %s %s: %w", p, to, err)
		}
		return nil
	})
	return finish(modeOf(c.Mode), err)
}

// Run writes files to stdout.
func (c *CatCmd) Run(ctx context.Context, env *Env) error {
	err := c.eachURL(ctx, env, c.URLs, func(ctx context.Context, s *session, p string) error {
		if _, err := s.Retrieve(ctx, p, 0, env.Stdout); err != nil {
			return fmt.Errorf("cat %s: %w", p, err)
		}
		return nil
	})
	return finish(modeOf(c.Mode), err)
}
