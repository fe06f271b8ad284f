package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/ferry-ftp/ferry/client"
	"github.com/ferry-ftp/ferry/internal/doctor"
)

// DoctorCmd is `ferry doctor`.
type DoctorCmd struct {
	URL         string        `arg:"" placeholder:"URL" help:"ftp:// or ftps:// URL of the server; its path is the directory listed in each data mode."`
	JSON        bool          `name:"json" help:"Print the report as JSON (checks[], each {name, ok, duration_ms, detail, cause, hint}; verdict)."`
	DataTimeout time.Duration `default:"5s" placeholder:"DURATION" help:"Bound on each step of each data-mode attempt."`
	Timeout     time.Duration `default:"15s" placeholder:"DURATION" help:"Bound on each control-connection step."`
	User        string        `short:"u" placeholder:"NAME[:PASS]" help:"Log in as NAME; without :PASS the password comes from the URL, ~/.netrc ($NETRC) or a prompt."`
	TLS         bool          `name:"tls" help:"Negotiate AUTH TLS (explicit FTPS) and report the version, cipher and certificate; ftps:// URLs use implicit TLS."`
	Insecure    bool          `help:"Do not verify the server's TLS certificate."`
	CAFile      string        `name:"ca-file" type:"path" placeholder:"FILE" help:"PEM certificates to trust for the server's TLS certificate."`
	Debug       bool          `help:"Print every session's FTP dialogue to stderr, labelled by session; the password is shown as XXXX."`
}

// Help is shown by ferry doctor --help.
func (c *DoctorCmd) Help() string {
	return "Checks name resolution, the control connection and banner, TLS, login and FEAT, then lists the URL's " +
		"directory once in each data mode (EPSV, PASV, EPRT, PORT). Every check runs and reports, even after " +
		"one fails; a failed mode comes with its likely cause (a firewall on either side, NAT, a middlebox " +
		"rewriting replies). The verdict says which modes work, which to use, and which firewall channels " +
		"each side needs.\n\nExit codes: 0 at least one data mode works, 1 none does, 2 usage, 3 the server " +
		"could not be reached, TLS failed or the login was refused."
}

// Run diagnoses the server and prints the report.
func (c *DoctorCmd) Run(ctx context.Context, env *Env) error {
	opts, err := c.options(env)
	if err != nil {
		return err
	}
	rep, err := doctor.Run(ctx, opts)
	if err != nil {
		return usageError{err}
	}
	if c.JSON {
		err = rep.WriteJSON(env.Stdout)
	} else {
		err = rep.WriteText(env.Stdout)
	}
	if err != nil {
		return err
	}
	if rep.OK() {
		return nil
	}
	code := exitFailure
	for _, name := range []string{"resolve", "control", "tls", "login"} {
		if ch := rep.Check(name); ch != nil && !ch.OK && !ch.Skipped && (name != "tls" || opts.TLS != nil) {
			code = exitConnection
			break
		}
	}
	return exitError{code: code, err: errors.New("doctor: no data mode works")}
}

// options turns the URL and flags into doctor options, with the
// credentials and TLS settings every client command uses.
func (c *DoctorCmd) options(env *Env) (doctor.Options, error) {
	r, err := ParseRemote(c.URL)
	if err != nil {
		return doctor.Options{}, usageError{err}
	}
	cf := ConnFlags{User: c.User, TLS: c.TLS, Insecure: c.Insecure, CAFile: c.CAFile}
	d := &dialer{remote: r}
	if err := cf.credentials(env, d); err != nil {
		return doctor.Options{}, err
	}
	host, portStr, err := net.SplitHostPort(r.Host)
	if err != nil {
		return doctor.Options{}, usagef("bad URL %q: %v", redact(c.URL), err)
	}
	port, _ := strconv.Atoi(portStr)
	opts := doctor.Options{
		Host: host, Port: port,
		User: d.user, Password: d.pass,
		Dir:         r.Path,
		ImplicitTLS: r.Implicit,
		Timeout:     c.Timeout,
		DataTimeout: c.DataTimeout,
	}
	if r.Implicit || c.TLS {
		if opts.TLS, err = cf.tlsConfig(); err != nil {
			return doctor.Options{}, err
		}
	} else if c.Insecure || c.CAFile != "" {
		return doctor.Options{}, usagef("--insecure and --ca-file need --tls or an ftps:// URL")
	}
	if c.Debug {
		opts.Debug = func(session string, dir client.Direction, line string) {
			if dir == client.Note {
				line = "note: " + line
			}
			fmt.Fprintf(env.Stderr, "[%s] %s\n", session, line)
		}
	}
	return opts, nil
}
