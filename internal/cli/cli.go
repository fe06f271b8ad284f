// Package cli is the ferry command line. Each subcommand is a kong
// struct in its own file with a Run method; CLI lists them. Every flag
// lives in this package.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/alecthomas/kong"
)

// CLI is the command line: one field per subcommand.
type CLI struct {
	Serve    ServeCmd    `cmd:"" help:"Serve a directory, or what --config says, over FTP."`
	User     UserCmd     `cmd:"" help:"Manage the accounts of a users file."`
	Firewall FirewallCmd `cmd:"" help:"Print the host-firewall rules (nftables, iptables, ufw, firewalld) the configuration needs."`
	Ls       LsCmd       `cmd:"" help:"List a remote directory."`
	Get      GetCmd      `cmd:"" help:"Download files, or trees with -r."`
	Put      PutCmd      `cmd:"" help:"Upload files, or trees with -r."`
	Mirror   MirrorCmd   `cmd:"" help:"Make a directory a copy of another, one local and one remote, transferring only changed files."`
	Rm       RmCmd       `cmd:"" help:"Remove remote files, or trees with -r."`
	Mkdir    MkdirCmd    `cmd:"" help:"Create remote directories."`
	Mv       MvCmd       `cmd:"" help:"Rename a remote file or directory."`
	Cat      CatCmd      `cmd:"" help:"Write remote files to stdout."`
	Shell    ShellCmd    `cmd:"" help:"The classic interactive FTP client: open, ls, cd, get, put, mget, passive, debug, ..."`
	Doctor   DoctorCmd   `cmd:"" help:"Diagnose the path to a server: control connection, TLS, login and every data mode, with the likely cause of each failure."`
}

// Env is what a command uses besides its flags: the standard streams,
// replaceable so that tests run the CLI in-process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer

	// listening, when set, is told the bound control addresses once
	// serve accepts connections: a readiness signal for tests.
	listening func([]net.Addr)
	// reloaded, when set, is told the outcome of each SIGHUP reload.
	reloaded func(error)
}

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // a runtime failure
	exitUsage   = 2 // bad arguments or configuration
)

// usageError marks an error as the user's to fix (exit 2), not a failure
// while running (exit 1).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitCode is how kong's Exit hook (after --help) unwinds to run.
type exitCode int

// Run runs the command line args (without the program name) and returns
// the process's exit code: 0 ok, 1 runtime failure, 2 usage or
// configuration error. Cancelling ctx (SIGINT, SIGTERM) stops a server
// gracefully.
func Run(ctx context.Context, args []string) int {
	return run(ctx, args, &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
}

func run(ctx context.Context, args []string, env *Env) (code int) {
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(exitCode)
			if !ok {
				panic(r)
			}
			code = int(c)
		}
	}()
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("ferry"),
		kong.Description("An FTP server and client."),
		kong.Writers(env.Stdout, env.Stderr),
		kong.Exit(func(c int) { panic(exitCode(c)) }),
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.Bind(env),
	)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ferry: %v\n", err)
		return exitFailure
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ferry: %v\n", err)
		return exitUsage
	}
	if err := kctx.Run(); err != nil {
		fmt.Fprintf(env.Stderr, "ferry: %v\n", err)
		var ee exitError
		switch {
		case errors.As(err, &ee):
			return ee.code
		case errors.As(err, new(usageError)):
			return exitUsage
		}
		return exitFailure
	}
	return exitOK
}
