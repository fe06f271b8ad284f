package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/ferry-ftp/ferry/client"
)

// The connection of the shell: open, user, close, and the data-connection
// mode, which passive and epsv change on the live connection.

// mode is the data-connection mode the settings ask for.
func (sh *shell) mode() client.Mode {
	switch {
	case sh.auto:
		return client.ModeAuto
	case sh.passive && sh.epsv:
		return client.ModePassive // EPSV, then PASV if refused
	case sh.passive:
		return client.ModePASV
	case sh.epsv:
		return client.ModeActive // EPRT, then PORT if refused
	}
	return client.ModePORT
}

// open connects to target: a URL, or a host and an optional port.
func (sh *shell) open(ctx context.Context, target string, port ...string) error {
	if sh.sess != nil {
		return fmt.Errorf("already connected to %s; use close first", sh.sess.remote.Name)
	}
	raw := target
	if !isURL(target) {
		p := "21"
		if len(port) > 0 {
			if n, err := strconv.Atoi(port[0]); err != nil || n < 1 || n > 65535 {
				return usagef("bad port %q", port[0])
			}
			p = port[0]
		}
		raw = "ftp://" + net.JoinHostPort(target, p) + "/"
	} else if len(port) > 0 {
		return usagef("usage: open URL | open HOST [PORT]")
	}
	r, err := ParseRemote(raw)
	if err != nil {
		return usageError{err}
	}
	f := sh.flags
	f.Debug = false // the shell's own hook prints the transcript
	d, err := f.newDialer(sh.env, r)
	if err != nil {
		return err
	}
	d.notes = nil // the transcript tells a fallback when debug is on
	d.opts = append(d.opts, client.WithDebug(sh.transcript))
	sh.dialer, sh.baseOpts = d, slices.Clip(d.opts)
	if err := sh.dial(ctx); err != nil {
		if !errors.Is(err, client.ErrLogin) {
			sh.dialer = nil // else user can try another login
		}
		return err
	}
	if sh.verbose.Load() {
		sh.say("Connected to %s.", r.Name)
	}
	if r.Path != "" {
		if err := sh.cd(ctx, r.Path); err != nil {
			return err
		}
	}
	return nil
}

// dial opens the session with the current mode and user, and learns the
// working directory.
func (sh *shell) dial(ctx context.Context) error {
	m := sh.mode()
	sh.dialer.opts = append(sh.baseOpts, client.WithMode(m))
	sh.dialer.mode = m
	s, err := sh.dialer.dial(ctx)
	if err != nil {
		return err
	}
	sh.sess = s
	sh.cache.clear()
	if !sh.binary {
		if err := s.Type(ctx, false); err != nil {
			return err
		}
	}
	return sh.learnCwd(ctx)
}

func (sh *shell) learnCwd(ctx context.Context) error {
	cwd, err := sh.sess.Pwd(ctx)
	if err != nil {
		return err
	}
	sh.cwd = cwd
	return nil
}

// data returns the session for a command that opens a data connection,
// in the mode that passive and epsv ask for now.
func (sh *shell) data(ctx context.Context) (*session, error) {
	if m := sh.mode(); sh.sess.mode != m {
		sh.sess.SetMode(m)
		sh.sess.mode = m
	}
	return sh.sess, nil
}

// user logs in as name, on a new connection to the same server; it
// also retries after open's login failed.
func (sh *shell) user(ctx context.Context, name string, pass []string) error {
	if sh.dialer == nil {
		return errNotConnected
	}
	var pw string
	if len(pass) > 0 {
		pw = pass[0]
	} else {
		p, err := sh.in.password("Password: ")
		if err != nil {
			return err
		}
		pw = p
	}
	// A new user starts in its own login directory.
	if sh.sess != nil {
		sh.sess.close(ctx)
		sh.sess = nil
	}
	sh.dialer.user, sh.dialer.pass = name, pw
	return sh.dial(ctx)
}

// disconnect ends the session, if any, with QUIT.
func (sh *shell) disconnect(ctx context.Context) {
	if sh.sess == nil {
		return
	}
	sh.sess.close(ctx)
	sh.sess = nil
	sh.cwd = ""
	sh.cache.clear()
}

// cd changes the remote directory and learns where it landed.
func (sh *shell) cd(ctx context.Context, dir string) error {
	if err := sh.sess.Cwd(ctx, dir); err != nil {
		return fmt.Errorf("cd %s: %w", dir, err)
	}
	return sh.learnCwd(ctx)
}
