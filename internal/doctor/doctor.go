// Package doctor diagnoses the path between this machine and an FTP
// server: name resolution, the control connection, TLS, login, FEAT and
// a real listing in each data mode (EPSV, PASV, EPRT, PORT). Like
// Tailscale's doctor, every check runs and every check reports, even
// after one fails, and the report ends with a verdict: which modes work,
// which to use, and the firewall channels each side needs.
//
// The package knows nothing of flags or URLs; the CLI fills Options and
// prints the Report.
package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferry-ftp/ferry/client"
	"github.com/ferry-ftp/ferry/ftp"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout     = 15 * time.Second
	DefaultDataTimeout = 5 * time.Second
)

// Options say what to diagnose and how.
type Options struct {
	// Host and Port name the server's control connection; Port 0 means
	// 21, or 990 with ImplicitTLS.
	Host string
	Port int
	// User and Password log in; an empty User logs in as anonymous.
	User, Password string
	// Dir is the directory listed in each data mode; "" is the login
	// directory.
	Dir string
	// TLS, when non-nil, secures the session with AUTH TLS (explicit
	// FTPS), or from the first byte with ImplicitTLS. Without it the
	// doctor only reports whether the server offers TLS.
	TLS         *tls.Config
	ImplicitTLS bool
	// Timeout bounds each control-connection step (default 15s);
	// DataTimeout bounds each data-mode attempt's steps (default 5s).
	Timeout, DataTimeout time.Duration
	// Resolver looks host names up; nil is net.DefaultResolver.
	Resolver *net.Resolver
	// Debug, when set, receives every session's transcript, each line
	// labelled with the session it belongs to ("control", "EPSV", ...).
	Debug func(session string, dir client.Direction, line string)
}

// Check is the outcome of one check. Field names are part of the JSON
// report and stay stable.
type Check struct {
	Name     string        `json:"name"`
	OK       bool          `json:"ok"`
	Skipped  bool          `json:"skipped"` // not run: an earlier step it needs failed, or it does not apply
	Duration time.Duration `json:"-"`
	// DurationMS is Duration in milliseconds, for the JSON report.
	DurationMS int64  `json:"duration_ms"`
	Detail     string `json:"detail"`
	Cause      string `json:"cause"` // on failure: the likely cause, in plain words
	Hint       string `json:"hint"`  // what to do about it
	// Data is set on the data-mode checks.
	Data *DataResult `json:"data,omitempty"`
}

// DataResult is what one data-mode attempt observed.
type DataResult struct {
	Mode       string `json:"mode"`                 // EPSV, PASV, EPRT or PORT
	Reply      string `json:"reply,omitempty"`      // the server's reply to the mode command
	Advertised string `json:"advertised,omitempty"` // the address the 227/229 reply named, or the one we announced
	Addr       string `json:"addr,omitempty"`       // connected to (passive) or accepted from (active)
	Opened     bool   `json:"opened"`               // the data connection opened
	Entries    int    `json:"entries"`              // listing entries received
}

// Report is the whole diagnosis.
type Report struct {
	Target  string  `json:"target"` // host:port as given
	Server  string  `json:"server"` // the address connected to, "" if none
	Checks  []Check `json:"checks"`
	Verdict Verdict `json:"verdict"`
}

// OK reports whether at least one data mode works.
func (r *Report) OK() bool { return r.Verdict.OK }

// Check returns the check called name, or nil.
func (r *Report) Check(name string) *Check {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

// The data modes, in order of preference.
var modes = []client.Mode{client.ModeEPSV, client.ModePASV, client.ModeEPRT, client.ModePORT}

// run is the state of one diagnosis.
type run struct {
	opts   Options
	host   string // as given, for TLS ServerName and messages
	port   int
	peer   netip.Addr // the address connected to
	report *Report

	tlsMu    sync.Mutex
	tlsState *tls.ConnectionState // the control connection's, once negotiated
}

// Run diagnoses the server and returns the report. It fails only for
// options it cannot use; every network problem is a check in the report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Host == "" {
		return nil, errors.New("doctor: no host")
	}
	if opts.Port == 0 {
		opts.Port = 21
		if opts.ImplicitTLS {
			opts.Port = 990
		}
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("doctor: port %d out of range", opts.Port)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.DataTimeout <= 0 {
		opts.DataTimeout = DefaultDataTimeout
	}
	if opts.ImplicitTLS && opts.TLS == nil {
		opts.TLS = &tls.Config{}
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.User == "" {
		opts.User, opts.Password = "anonymous", "ferry-doctor@"
	}
	r := &run{
		opts: opts, host: opts.Host, port: opts.Port,
		report: &Report{Target: net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))},
	}
	r.diagnose(ctx)
	r.report.Verdict = verdict(r.report, r.peer, r.port)
	return r.report, nil
}

func (r *run) add(c Check) *Check {
	c.DurationMS = c.Duration.Milliseconds()
	r.report.Checks = append(r.report.Checks, c)
	return &r.report.Checks[len(r.report.Checks)-1]
}

// skip records a check that could not run because of an earlier failure.
func (r *run) skip(name, why string) {
	r.add(Check{Name: name, Skipped: true, Detail: "not run: " + why})
}

func (r *run) diagnose(ctx context.Context) {
	if !r.resolve(ctx) {
		for _, n := range []string{"control", "tls", "login", "feat"} {
			r.skip(n, "the server's name did not resolve")
		}
		r.skipModes("the server's name did not resolve")
		return
	}
	conn, feats := r.control(ctx)
	if conn == nil {
		r.skip("tls", "no control connection")
		r.skip("login", "no control connection")
		r.skip("feat", "no control connection")
		r.skipModes("no control connection")
		return
	}
	conn = r.tls(ctx, conn, feats)
	if conn == nil {
		r.skip("login", "TLS failed; the password is not sent over an unprotected connection")
		r.feat(feats)
		r.skipModes("TLS failed")
		return
	}
	loggedIn := r.login(ctx, conn)
	r.feat(conn.Features())
	conn.Quit(ctx)
	if !loggedIn {
		r.skipModes("login failed")
		return
	}
	for _, m := range modes {
		r.mode(ctx, m)
	}
	r.crossCheck()
}

func (r *run) skipModes(why string) {
	for _, m := range modes {
		r.add(Check{Name: m.String(), Skipped: true, Detail: "not run: " + why,
			Data: &DataResult{Mode: m.String()}})
	}
}

// resolve looks the host up; an address literal needs no lookup.
func (r *run) resolve(ctx context.Context) bool {
	start := time.Now()
	if a, err := netip.ParseAddr(strings.Trim(r.host, "[]")); err == nil {
		r.peer = a.Unmap()
		r.add(Check{Name: "resolve", OK: true, Detail: r.peer.String() + " is an address; nothing to resolve"})
		return true
	}
	lctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	addrs, err := r.opts.Resolver.LookupNetIP(lctx, "ip", r.host)
	c := Check{Name: "resolve", Duration: time.Since(start)}
	if err != nil || len(addrs) == 0 {
		c.Detail = fmt.Sprintf("looking up %s: %v", r.host, err)
		c.Cause = "the name does not resolve: a typo, or this machine's DNS cannot reach the server's zone"
		c.Hint = "check the spelling, or try the server's IP address"
		r.add(c)
		return false
	}
	// Prefer IPv4: PASV and PORT exist only there, so all four modes can
	// be tried; EPSV and EPRT behave the same on either family.
	r.peer = addrs[0].Unmap()
	for _, a := range addrs {
		if a.Unmap().Is4() {
			r.peer = a.Unmap()
			break
		}
	}
	names := make([]string, len(addrs))
	for i, a := range addrs {
		names[i] = a.Unmap().String()
	}
	c.OK = true
	c.Detail = fmt.Sprintf("%s is %s; using %s", r.host, strings.Join(names, ", "), r.peer)
	r.add(c)
	return true
}

// addr is the control address dialed: the resolved address, so that
// every session reaches the same machine.
func (r *run) addr() string { return netip.AddrPortFrom(r.peer, uint16(r.port)).String() }

// dialOptions are the options every session shares. label names the
// session in the debug transcript; extra debug hooks see its lines too.
func (r *run) dialOptions(label string, timeout time.Duration, tlsConf *tls.Config, hook func(client.Direction, string)) []client.Option {
	opts := []client.Option{
		client.WithTimeout(timeout),
		client.WithDebug(func(d client.Direction, line string) {
			if hook != nil {
				hook(d, line)
			}
			if r.opts.Debug != nil {
				r.opts.Debug(label, d, line)
			}
		}),
	}
	if tlsConf != nil {
		if r.opts.ImplicitTLS {
			opts = append(opts, client.WithImplicitTLS(tlsConf))
		} else {
			opts = append(opts, client.WithTLS(tlsConf))
		}
	}
	return opts
}

// sessionTLS is the TLS configuration for sessions: the caller's, with
// the host name to verify (we dial the resolved address, not the name).
func (r *run) sessionTLS() *tls.Config {
	if r.opts.TLS == nil {
		return nil
	}
	conf := r.opts.TLS.Clone()
	if conf.ServerName == "" {
		conf.ServerName = strings.Trim(r.host, "[]")
	}
	return conf
}

// control opens the first session: without TLS unless it is implicit,
// so that the banner and FEAT are seen even when AUTH TLS would fail.
func (r *run) control(ctx context.Context) (*client.Conn, map[string]string) {
	var banner []string
	greeting := true
	hook := func(d client.Direction, line string) {
		if d == client.Sent {
			greeting = false
		}
		if greeting && d == client.Received {
			banner = append(banner, line)
		}
	}
	var conf *tls.Config
	if r.opts.ImplicitTLS {
		conf = r.captureTLS(r.sessionTLS())
	}
	start := time.Now()
	conn, err := client.Dial(ctx, r.addr(), r.dialOptions("control", r.opts.Timeout, conf, hook)...)
	c := Check{Name: "control", Duration: time.Since(start)}
	if err != nil {
		c.Detail = fmt.Sprintf("connecting to %s: %v", r.addr(), err)
		c.Cause, c.Hint = controlCause(err, r.port, len(banner) > 0)
		r.add(c)
		if r.opts.ImplicitTLS {
			r.tlsFailure(err, start)
		}
		return nil, nil
	}
	c.OK = true
	c.Detail = fmt.Sprintf("connected to %s; banner %q", r.addr(), strings.Join(banner, " / "))
	r.add(c)
	return conn, conn.Features()
}

// controlCause explains a failed control connection.
func controlCause(err error, port int, greeted bool) (cause, hint string) {
	switch {
	case isRefused(err):
		return fmt.Sprintf("nothing accepts connections on port %d: the server is not running there, or a firewall rejects the port", port),
			"check the port and that the server listens on this address"
	case isTimeout(err) && !greeted:
		return fmt.Sprintf("no answer from port %d: a firewall drops the connection (on this machine's side or the server's), or the address is wrong", port),
			fmt.Sprintf("client: allow outbound to the server's port %d; server: allow inbound to port %d", port, port)
	case isTimeout(err):
		return "the connection opened but the greeting never came: the server is overloaded, or something in between holds the connection (a proxy, a TLS port spoken to in plain text)",
			"if the port is an implicit-TLS port (990), use ftps:// with implicit TLS"
	}
	var rep *ftp.Reply
	if errors.As(err, &rep) {
		return fmt.Sprintf("the server refused the session: %d %s", rep.Code, rep.Msg),
			"the server may be full or banning this address; try later"
	}
	return "the control connection failed: " + err.Error(), ""
}

// captureTLS returns conf with a hook that records the first
// negotiated connection state (the control connection's).
func (r *run) captureTLS(conf *tls.Config) *tls.Config {
	if conf == nil {
		return nil
	}
	prev := conf.VerifyConnection
	conf.VerifyConnection = func(cs tls.ConnectionState) error {
		r.tlsMu.Lock()
		if r.tlsState == nil {
			r.tlsState = &cs
		}
		r.tlsMu.Unlock()
		if prev != nil {
			return prev(cs)
		}
		return nil
	}
	return conf
}

// tls reports whether the server offers TLS, and with Options.TLS set
// negotiates it: it returns the session to continue with (a new TLS
// session for explicit TLS), or nil if TLS failed.
func (r *run) tls(ctx context.Context, conn *client.Conn, feats map[string]string) *client.Conn {
	offered := strings.Contains(strings.ToUpper(feats["AUTH"]), "TLS")
	if r.opts.TLS == nil {
		c := Check{Name: "tls", OK: offered}
		if offered {
			c.Detail = "the server offers AUTH TLS (" + feats["AUTH"] + "); this run did not use it"
			c.Hint = "use ftps:// (or --tls) so that the password and the data are encrypted"
		} else {
			c.Detail = "FEAT lists no AUTH TLS"
			c.Cause = "the server does not offer FTPS: the password and the files cross the network in clear"
			c.Hint = "enable TLS on the server; until then use it only on a trusted network"
		}
		r.add(c)
		return conn
	}
	if r.opts.ImplicitTLS {
		r.tlsSuccess(0, "implicit TLS")
		return conn
	}
	conn.Quit(ctx)
	start := time.Now()
	conf := r.captureTLS(r.sessionTLS())
	tconn, err := client.Dial(ctx, r.addr(), r.dialOptions("tls", r.opts.Timeout, conf, nil)...)
	if err != nil {
		r.tlsFailure(err, start)
		if !offered {
			c := &r.report.Checks[len(r.report.Checks)-1]
			c.Detail += "; FEAT lists no AUTH TLS"
		}
		return nil
	}
	how := "AUTH TLS"
	if !offered {
		how += " (accepted although FEAT does not list it)"
	}
	r.tlsSuccess(time.Since(start), how)
	return tconn
}

func (r *run) tlsSuccess(d time.Duration, how string) {
	r.tlsMu.Lock()
	cs := r.tlsState
	r.tlsMu.Unlock()
	c := Check{Name: "tls", OK: true, Duration: d}
	if cs == nil {
		c.Detail = how + " negotiated"
		r.add(c)
		return
	}
	c.Detail = fmt.Sprintf("%s: %s, %s", how, tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite))
	if len(cs.PeerCertificates) > 0 {
		cert := cs.PeerCertificates[0]
		c.Detail += fmt.Sprintf("; certificate for %s, issued by %s, valid until %s",
			certNames(cert.Subject.CommonName, cert.DNSNames, cert.IPAddresses), cert.Issuer.CommonName,
			cert.NotAfter.UTC().Format(time.DateOnly))
		switch left := time.Until(cert.NotAfter); {
		case left < 0:
			c.Hint = "the certificate has expired: renew it"
		case left < 24*time.Hour:
			c.Hint = "the certificate expires within a day: renew it"
		case left < 30*24*time.Hour:
			c.Hint = fmt.Sprintf("the certificate expires in %d days: renew it", int(left.Hours()/24))
		}
	}
	if r.opts.TLS.InsecureSkipVerify {
		c.Detail += " (not verified: certificate checks are off)"
	}
	if cs.Version < tls.VersionTLS12 {
		c.Hint = "the server negotiated an obsolete TLS version: enable TLS 1.2 or 1.3 on it"
	}
	r.add(c)
}

// tlsFailure records a failed TLS negotiation with its likely cause.
func (r *run) tlsFailure(err error, start time.Time) {
	c := Check{Name: "tls", Duration: time.Since(start), Detail: err.Error()}
	c.Cause, c.Hint = tlsCause(err, r.host)
	r.add(c)
}

func tlsCause(err error, host string) (cause, hint string) {
	var rep *ftp.Reply
	var verr *tls.CertificateVerificationError
	var herr x509.HostnameError
	switch {
	case errors.As(err, &rep):
		return fmt.Sprintf("the server refused AUTH TLS (%d %s): it does not offer FTPS on this port", rep.Code, rep.Msg),
			"enable TLS on the server, or try implicit FTPS (port 990)"
	case errors.As(err, &herr):
		return fmt.Sprintf("the certificate is not valid for %q: %v", host, herr),
			"connect with a name the certificate lists, or fix the certificate"
	case errors.As(err, &verr):
		return certCause(verr)
	case isTimeout(err):
		return "the TLS handshake did not complete: a middlebox may drop TLS on the FTP port, or the server's TLS is misconfigured",
			"check the server log for the handshake error"
	}
	var alert tls.AlertError
	var rhe tls.RecordHeaderError
	switch {
	case errors.As(err, &alert):
		return fmt.Sprintf("the server rejected the TLS handshake (alert: %v): no protocol version or cipher suite in common, or it wants a client certificate", alert),
			"enable TLS 1.2 or 1.3 with modern cipher suites on the server"
	case errors.As(err, &rhe):
		return "the server did not answer in TLS: explicit and implicit FTPS may be mixed up (ftps:// on port 21, or AUTH TLS on port 990)",
			"use explicit TLS (AUTH TLS) on port 21 and implicit TLS on port 990"
	}
	return "TLS failed: " + err.Error(), ""
}

func certNames(cn string, dns []string, ips []net.IP) string {
	var names []string
	names = append(names, dns...)
	for _, ip := range ips {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return strconv.Quote(cn)
	}
	return strings.Join(names, ", ")
}

// login logs in on conn.
func (r *run) login(ctx context.Context, conn *client.Conn) bool {
	start := time.Now()
	err := conn.Login(ctx, r.opts.User, r.opts.Password)
	c := Check{Name: "login", Duration: time.Since(start)}
	if err == nil {
		c.OK = true
		c.Detail = fmt.Sprintf("logged in as %s", r.opts.User)
		r.add(c)
		return true
	}
	c.Detail = fmt.Sprintf("logging in as %s: %v", r.opts.User, err)
	var rep *ftp.Reply
	switch {
	case errors.Is(err, client.ErrLogin) && errors.As(err, &rep) && rep.Code == ftp.CodeProtectionDenied:
		c.Cause = "the server requires TLS before login"
		c.Hint = "use ftps:// (or --tls)"
	case errors.Is(err, client.ErrLogin):
		c.Cause = "the server refused the user name or password"
		c.Hint = "check the credentials (URL, --user, ~/.netrc); anonymous logins may be disabled"
	default:
		c.Cause = "the session broke during login: " + err.Error()
	}
	r.add(c)
	return false
}

// feat reports the server's features that matter to data connections.
func (r *run) feat(feats map[string]string) {
	c := Check{Name: "feat", OK: true}
	if len(feats) == 0 {
		c.Detail = "no FEAT reply (an RFC 959-only server): EPSV, EPRT and MLSD may be missing"
		r.add(c)
		return
	}
	names := make([]string, 0, len(feats))
	for _, n := range []string{"EPSV", "EPRT", "AUTH", "PBSZ", "PROT", "MLST", "SIZE", "MDTM", "REST", "UTF8", "HASH"} {
		if _, ok := feats[n]; ok {
			if p := feats[n]; p != "" && (n == "AUTH" || n == "REST" || n == "HASH") {
				n += " " + p
			}
			names = append(names, n)
		}
	}
	c.Detail = fmt.Sprintf("%d features: %s", len(feats), strings.Join(names, ", "))
	r.add(c)
}

func roundDuration(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(time.Millisecond)
}

// certCause explains a certificate the client would not trust.
func certCause(verr *tls.CertificateVerificationError) (cause, hint string) {
	desc := ""
	if len(verr.UnverifiedCertificates) > 0 {
		cert := verr.UnverifiedCertificates[0]
		desc = fmt.Sprintf(" (certificate for %s, issued by %q, valid %s to %s)",
			certNames(cert.Subject.CommonName, cert.DNSNames, cert.IPAddresses), cert.Issuer.CommonName,
			cert.NotBefore.UTC().Format(time.DateOnly), cert.NotAfter.UTC().Format(time.DateOnly))
	}
	var ua x509.UnknownAuthorityError
	var inv x509.CertificateInvalidError
	switch {
	case errors.As(verr.Err, &ua):
		return "the server's certificate is signed by an authority this machine does not trust (self-signed, or a private CA)" + desc,
			"trust the server's CA (e.g. SSL_CERT_FILE=ca.pem), or give the server a certificate from a public CA"
	case errors.As(verr.Err, &inv) && inv.Reason == x509.Expired:
		return "the server's certificate has expired or is not yet valid" + desc + "; or this machine's clock is wrong",
			"renew the certificate; check the clock"
	}
	return "the server's certificate was not accepted: " + verr.Err.Error() + desc, ""
}
