package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/ferry-ftp/ferry/client"
	"github.com/ferry-ftp/ferry/ftp"
)

// Remote is a parsed ftp:// or ftps:// URL.
type Remote struct {
	Host     string // host:port, ready for client.Dial
	Name     string // the host alone, as .netrc names machines
	User     string // "" if the URL names none
	Password string
	HasPass  bool   // the URL carried a password, possibly empty
	Implicit bool   // ftps://: TLS from the first byte
	Path     string // relative to the login directory, or absolute if it began with %2F; "" is the login directory
	Dir      bool   // the URL path ended with "/"
}

// ParseRemote parses an ftp:// (port 21) or ftps:// (implicit TLS, port
// 990) URL. As RFC 1738 has it, the path is relative to the directory
// the server puts the user in at login; "%2F" at its start makes it
// absolute (ftp://host/%2Fetc/motd is /etc/motd).
func ParseRemote(s string) (Remote, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Remote{}, fmt.Errorf("bad URL %q: %w", redact(s), errors.Unwrap(err))
	}
	var r Remote
	port := "21"
	switch strings.ToLower(u.Scheme) {
	case "ftp":
	case "ftps":
		r.Implicit, port = true, "990"
	default:
		return Remote{}, fmt.Errorf("bad URL %q: want ftp:// or ftps://", redact(s))
	}
	r.Name = u.Hostname()
	if r.Name == "" {
		return Remote{}, fmt.Errorf("bad URL %q: no host", redact(s))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return Remote{}, fmt.Errorf("bad URL %q: bad port %q", redact(s), p)
		}
		port = p
	}
	r.Host = net.JoinHostPort(r.Name, port)
	if u.User != nil {
		r.User = u.User.Username()
		r.Password, r.HasPass = u.User.Password()
	}
	// EscapedPath keeps %2F apart from "/".
	p := u.EscapedPath()
	r.Dir = strings.HasSuffix(p, "/")
	abs := strings.HasPrefix(strings.ToUpper(p), "/%2F")
	p = strings.TrimPrefix(p, "/")
	if r.Path, err = url.PathUnescape(p); err != nil {
		return Remote{}, fmt.Errorf("bad URL %q: %w", redact(s), err)
	}
	if !abs {
		r.Path = strings.TrimRight(r.Path, "/")
	} else if r.Path != "/" {
		r.Path = strings.TrimRight(r.Path, "/")
	}
	return r, nil
}

// isURL reports whether s looks like a URL rather than a local path.
func isURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "ftp://") || strings.HasPrefix(l, "ftps://")
}

// redact removes the password from a URL meant for a message.
func redact(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	auth, host, ok := strings.Cut(rest, "@")
	if !ok || strings.ContainsAny(auth, "/") {
		return s
	}
	if user, _, ok := strings.Cut(auth, ":"); ok {
		return scheme + "://" + user + ":xxxx@" + host
	}
	return s
}

// joinRemote joins a remote directory ("" for the login directory) and
// a name.
func joinRemote(dir, name string) string {
	if dir == "" {
		return name
	}
	return path.Join(dir, name)
}

// ConnFlags are the flags of every command that talks to a server.
type ConnFlags struct {
	User             string        `short:"u" placeholder:"NAME[:PASS]" help:"Log in as NAME; without :PASS the password comes from the URL, ~/.netrc ($NETRC) or a prompt."`
	TLS              bool          `name:"tls" help:"Secure an ftp:// session with AUTH TLS (explicit FTPS); ftps:// URLs use implicit TLS."`
	Insecure         bool          `help:"Do not verify the server's TLS certificate."`
	CAFile           string        `name:"ca-file" type:"path" placeholder:"FILE" help:"PEM certificates to trust for the server's TLS certificate."`
	Mode             string        `enum:"passive,active,auto" default:"passive" help:"Data connections: passive (EPSV, then PASV), active (EPRT, then PORT), or auto (passive, then active if passive fails)."`
	ActiveAddress    string        `placeholder:"IP" help:"Address announced in EPRT/PORT, e.g. a NAT's public address (active mode)."`
	ActivePorts      string        `placeholder:"MIN-MAX" help:"Ports to listen on in active mode."`
	TrustPASVAddress bool          `name:"trust-pasv-address" help:"Connect to the address a PASV reply names even when it differs from the server's."`
	Debug            bool          `help:"Print the FTP dialogue (---> commands, replies, the client's decisions) to stderr; the password is shown as XXXX."`
	Timeout          time.Duration `default:"30s" help:"Bound on each network operation."`
}

// session is one logged-in control connection. It is used by one
// goroutine at a time.
type session struct {
	*client.Conn
	remote Remote
	mode   client.Mode
	notes  io.Writer       // where a change of data-connection mode is told; nil: not told (--debug already shows it)
	told   map[string]bool // the notes already written
}

// noteFallback tells, once per reason, that auto mode left passive: the
// user should know, since every later transfer will behave the same.
func (s *session) noteFallback() {
	why := s.LastData().Fallback
	if s.mode != client.ModeAuto || why == "" || s.notes == nil || s.told[why] {
		return
	}
	if s.told == nil {
		s.told = map[string]bool{}
	}
	s.told[why] = true
	fmt.Fprintf(s.notes, "ferry: note: %s\n", why)
}

// Retrieve is client.Conn's, telling a mode fallback.
func (s *session) Retrieve(ctx context.Context, path string, offset int64, w io.Writer) (int64, error) {
	defer s.noteFallback()
	return s.Conn.Retrieve(ctx, path, offset, w)
}

// Store is client.Conn's, telling a mode fallback.
func (s *session) Store(ctx context.Context, path string, r io.Reader, offset int64) (int64, error) {
	defer s.noteFallback()
	return s.Conn.Store(ctx, path, r, offset)
}

// Append is client.Conn's, telling a mode fallback.
func (s *session) Append(ctx context.Context, path string, r io.Reader) (int64, error) {
	defer s.noteFallback()
	return s.Conn.Append(ctx, path, r)
}

// List is client.Conn's, telling a mode fallback.
func (s *session) List(ctx context.Context, dir string) ([]ftp.Entry, error) {
	defer s.noteFallback()
	return s.Conn.List(ctx, dir)
}

// dialer opens logged-in sessions to one server; commands that work
// over several connections (mirror -j) call it once per connection.
type dialer struct {
	remote Remote
	user   string
	pass   string
	opts   []client.Option
	mode   client.Mode
	notes  io.Writer // for session.notes
}

// newDialer resolves the credentials and the client options for r.
// Credentials come, in order, from --user, the URL, ~/.netrc, a no-echo
// prompt when stdin is a terminal, else the anonymous login.
func (f *ConnFlags) newDialer(env *Env, r Remote) (*dialer, error) {
	d := &dialer{remote: r}
	if err := f.credentials(env, d); err != nil {
		return nil, err
	}
	d.mode = modeOf(f.Mode)
	d.opts = []client.Option{client.WithMode(d.mode), client.WithTimeout(f.Timeout), client.WithTrustPASVAddress(f.TrustPASVAddress)}
	if f.ActiveAddress != "" {
		a, err := netip.ParseAddr(f.ActiveAddress)
		if err != nil {
			return nil, usagef("--active-address: %v", err)
		}
		d.opts = append(d.opts, client.WithActiveAddress(a))
	}
	if f.ActivePorts != "" {
		lo, hi, err := parsePortRange(f.ActivePorts)
		if err != nil {
			return nil, usagef("--active-ports: %v", err)
		}
		d.opts = append(d.opts, client.WithActivePorts(lo, hi))
	}
	if r.Implicit || f.TLS {
		cfg, err := f.tlsConfig()
		if err != nil {
			return nil, err
		}
		if r.Implicit {
			d.opts = append(d.opts, client.WithImplicitTLS(cfg))
		} else {
			d.opts = append(d.opts, client.WithTLS(cfg))
		}
	} else if f.Insecure || f.CAFile != "" {
		return nil, usagef("--insecure and --ca-file need --tls or an ftps:// URL")
	}
	if !f.Debug {
		d.notes = env.Stderr
	} else {
		// The library writes PASS as XXXX; nothing else here carries it.
		d.opts = append(d.opts, client.WithDebug(func(dir client.Direction, line string) {
			if dir == client.Note {
				line = "note: " + line
			}
			fmt.Fprintln(env.Stderr, line)
		}))
	}
	return d, nil
}

// modeOf maps a --mode value to the client's Mode.
func modeOf(s string) client.Mode {
	switch s {
	case "active":
		return client.ModeActive
	case "auto":
		return client.ModeAuto
	}
	return client.ModePassive
}

func (f *ConnFlags) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: f.Insecure}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, usagef("--ca-file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usagef("--ca-file %s: no PEM certificate in it", f.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

func parsePortRange(s string) (lo, hi uint16, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		b = a
	}
	l, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	h, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if err1 != nil || err2 != nil || l == 0 || l > h {
		return 0, 0, fmt.Errorf("want MIN-MAX with 1 <= MIN <= MAX <= 65535, got %q", s)
	}
	return uint16(l), uint16(h), nil
}

func (f *ConnFlags) credentials(env *Env, d *dialer) error {
	r := d.remote
	user, pass, hasPass := r.User, r.Password, r.HasPass
	if f.User != "" {
		u, p, ok := strings.Cut(f.User, ":")
		if u == "" {
			return usagef("--user: empty user name")
		}
		user = u
		if ok {
			pass, hasPass = p, true
		} else if u != r.User {
			pass, hasPass = "", false
		}
	}
	if !hasPass {
		if m, ok, err := lookupNetrc(r.Name, user); err != nil {
			return err
		} else if ok {
			if user == "" {
				user = m.Login
			}
			pass, hasPass = m.Password, m.HasPassword
		}
	}
	switch {
	case user == "":
		user, pass = "anonymous", "ferry@"
	case !hasPass && !isAnonymous(user):
		p, err := promptPassword(env, user, r.Name)
		if err != nil {
			return err
		}
		pass = p
	case !hasPass:
		pass = "ferry@"
	}
	d.user, d.pass = user, pass
	return nil
}

func isAnonymous(user string) bool {
	return strings.EqualFold(user, "anonymous") || strings.EqualFold(user, "ftp")
}

// promptPassword asks for a password without echo when stdin is a
// terminal; otherwise the password is empty (a server that wants one
// answers 530, which names the cause).
func promptPassword(env *Env, user, host string) (string, error) {
	f, ok := env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", nil
	}
	fmt.Fprintf(env.Stderr, "Password for %s@%s: ", user, host)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(env.Stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return string(b), nil
}

// dial opens a session and logs in.
func (d *dialer) dial(ctx context.Context) (*session, error) {
	c, err := client.Dial(ctx, d.remote.Host, d.opts...)
	if err != nil {
		return nil, err
	}
	if err := c.Login(ctx, d.user, d.pass); err != nil {
		c.Close()
		return nil, err
	}
	return &session{Conn: c, remote: d.remote, mode: d.mode, notes: d.notes}, nil
}

// close ends the session politely, bounded in time even if ctx is done.
func (s *session) close(ctx context.Context) {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.Quit(qctx); err != nil {
		s.Close()
	}
}

// connect is dial for commands with one URL: it parses it, dials and
// logs in.
func (f *ConnFlags) connect(ctx context.Context, env *Env, rawURL string) (*session, error) {
	r, err := ParseRemote(rawURL)
	if err != nil {
		return nil, usageError{err}
	}
	d, err := f.newDialer(env, r)
	if err != nil {
		return nil, err
	}
	return d.dial(ctx)
}

// isDir reports whether p is a directory on the server, by changing
// into it and back.
func (s *session) isDir(ctx context.Context, p string) bool {
	if p == "" || p == "/" {
		return true
	}
	home, err := s.Pwd(ctx)
	if err != nil {
		return false
	}
	if s.Cwd(ctx, p) != nil {
		return false
	}
	if err := s.Cwd(ctx, home); err != nil {
		return false
	}
	return true
}
