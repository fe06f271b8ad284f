package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/ferry-ftp/ferry/internal/auth"
)

// UserCmd is `ferry user`: the accounts of a users file. A running
// server picks changes up on SIGHUP.
type UserCmd struct {
	File string `short:"f" type:"path" default:"users.toml" env:"FERRY_USERS" placeholder:"FILE" help:"The users file (users.file in the configuration)."`

	Add    UserAddCmd    `cmd:"" help:"Add an account. The password is asked twice on a terminal, or read as one line from standard input."`
	Passwd UserPasswdCmd `cmd:"" help:"Change an account's password."`
	Del    UserDelCmd    `cmd:"" help:"Delete an account."`
	List   UserListCmd   `cmd:"" help:"List the accounts (never their password hashes)."`
}

// UserAddCmd is `ferry user add`.
type UserAddCmd struct {
	Name string   `arg:"" help:"Account name."`
	Home string   `placeholder:"DIR" help:"Home directory, relative to the users file's directory unless absolute (default: a directory named NAME beside the file)."`
	Perm []string `placeholder:"LIST" help:"Permissions, comma-separated: list, download, upload, overwrite, delete, rename, mkdir, rmdir, chmod (default all)."`
}

// Run adds the account.
func (c *UserAddCmd) Run(env *Env, u *UserCmd) error {
	home := c.Home
	if home == "" {
		home = c.Name
	}
	if _, err := auth.ParsePerms(c.Perm); err != nil {
		return usageError{err}
	}
	f := auth.File{Path: u.File}
	accts, err := f.List()
	if err != nil {
		return err
	}
	for _, a := range accts {
		if a.Name == c.Name {
			return usagef("user %q already exists in %s (use `ferry user passwd`)", c.Name, u.File)
		}
	}
	pass, err := readPassword(env)
	if err != nil {
		return err
	}
	if err := f.Add(auth.Account{Name: c.Name, Home: home, Permissions: c.Perm}, pass); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "added %s to %s\n", c.Name, u.File)
	if !filepath.IsAbs(home) {
		home = filepath.Join(filepath.Dir(u.File), home)
	}
	if fi, err := os.Stat(home); err != nil || !fi.IsDir() {
		fmt.Fprintf(env.Stdout, "note: home %s is not a directory yet; create it before %s logs in\n", home, c.Name)
	}
	return nil
}

// UserPasswdCmd is `ferry user passwd`.
type UserPasswdCmd struct {
	Name string `arg:"" help:"Account name."`
}

// Run sets the password.
func (c *UserPasswdCmd) Run(env *Env, u *UserCmd) error {
	if err := exists(u.File, c.Name); err != nil {
		return err
	}
	pass, err := readPassword(env)
	if err != nil {
		return err
	}
	if err := (auth.File{Path: u.File}).SetPassword(c.Name, pass); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "password of %s changed\n", c.Name)
	return nil
}

// exists fails (usage) unless name is in the file, so that no password
// is asked for nothing.
func exists(file, name string) error {
	accts, err := (auth.File{Path: file}).List()
	if err != nil {
		return err
	}
	for _, a := range accts {
		if a.Name == name {
			return nil
		}
	}
	return usagef("no user %q in %s", name, file)
}

// UserDelCmd is `ferry user del`.
type UserDelCmd struct {
	Name string `arg:"" help:"Account name."`
}

// Run deletes the account.
func (c *UserDelCmd) Run(env *Env, u *UserCmd) error {
	if err := exists(u.File, c.Name); err != nil {
		return err
	}
	if err := (auth.File{Path: u.File}).Delete(c.Name); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "deleted %s from %s\n", c.Name, u.File)
	return nil
}

// UserListCmd is `ferry user list`.
type UserListCmd struct{}

// Run prints one account a line: name, home, permissions, state.
func (c *UserListCmd) Run(env *Env, u *UserCmd) error {
	accts, err := (auth.File{Path: u.File}).List()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tHOME\tPERMISSIONS\tSTATE")
	for _, a := range accts {
		perms := "all"
		if a.Permissions != nil {
			perms = strings.Join(a.Permissions, ",")
		}
		state := "enabled"
		if a.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, a.Home, perms, state)
	}
	return tw.Flush()
}

// readPassword asks twice without echo when standard input is a
// terminal; otherwise it reads one line, for scripts.
func readPassword(env *Env) (string, error) {
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(env.Stderr, "Password: ")
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(env.Stderr, "Again: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", err
		}
		if string(p1) != string(p2) {
			return "", usagef("the passwords differ")
		}
		return nonEmpty(string(p1))
	}
	line, err := bufio.NewReader(io.LimitReader(env.Stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return nonEmpty(strings.TrimRight(line, "\r\n"))
}

func nonEmpty(p string) (string, error) {
	if p == "" {
		return "", usagef("empty password")
	}
	return p, nil
}
