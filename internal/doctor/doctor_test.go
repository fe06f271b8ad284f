package doctor

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/client"
	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/peertest"
	"github.com/ferry-ftp/ferry/server"
)

func diagnose(t *testing.T, opts Options) *Report {
	t.Helper()
	opts.Debug = func(session string, d client.Direction, line string) { t.Logf("[%s] %s", session, line) }
	rep, err := Run(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", text.String())
	return rep
}

func check(t *testing.T, rep *Report, name string) *Check {
	t.Helper()
	c := rep.Check(name)
	if c == nil {
		t.Fatalf("no %s check in the report", name)
	}
	return c
}

// wantCause fails unless check name's cause contains every fragment.
func wantCause(t *testing.T, rep *Report, name string, fragments ...string) {
	t.Helper()
	c := check(t, rep, name)
	for _, f := range fragments {
		if !strings.Contains(c.Cause, f) {
			t.Errorf("%s cause = %q, want it to mention %q", name, c.Cause, f)
		}
	}
}

func wantModes(t *testing.T, rep *Report, working, failing []string) {
	t.Helper()
	if !slices.Equal(rep.Verdict.Working, working) || !slices.Equal(rep.Verdict.Failing, failing) {
		t.Errorf("verdict working %v failing %v, want %v and %v", rep.Verdict.Working, rep.Verdict.Failing, working, failing)
	}
	if rep.OK() != (len(working) > 0) {
		t.Errorf("OK() = %v with working modes %v", rep.OK(), working)
	}
	for _, m := range working {
		if c := check(t, rep, m); c.Data.Entries != len(listed) || !c.Data.Opened {
			t.Errorf("%s: opened %v, listed %d entries, want %d", m, c.Data.Opened, c.Data.Entries, len(listed))
		}
	}
}

func channel(t *testing.T, rep *Report, side, for_ string) Channel {
	t.Helper()
	for _, ch := range rep.Verdict.Channels {
		if ch.Side == side && ch.For == for_ {
			return ch
		}
	}
	t.Fatalf("no %s channel for %s in %+v", side, for_, rep.Verdict.Channels)
	return Channel{}
}

func TestAllModesWork(t *testing.T) {
	var ports ftp.PortRange
	host, port := startServer(t, func(c *server.Config) { ports = c.PassivePorts })
	rep := diagnose(t, Options{Host: host, Port: port})

	for _, name := range []string{"resolve", "control", "login", "feat"} {
		if c := check(t, rep, name); !c.OK {
			t.Errorf("%s failed: %s", name, c.Detail)
		}
	}
	if c := check(t, rep, "control"); !strings.Contains(c.Detail, "ferry FTP server ready") {
		t.Errorf("control detail %q does not show the banner", c.Detail)
	}
	if c := check(t, rep, "tls"); c.OK || !strings.Contains(c.Cause, "does not offer FTPS") {
		t.Errorf("tls check on a server without TLS: ok %v cause %q", c.OK, c.Cause)
	}
	wantModes(t, rep, []string{"EPSV", "PASV", "EPRT", "PORT"}, []string{})
	if rep.Verdict.Use != "passive" || rep.Verdict.Command != "EPSV" {
		t.Errorf("verdict use %q command %q, want passive EPSV", rep.Verdict.Use, rep.Verdict.Command)
	}
	if !strings.HasPrefix(rep.Verdict.Summary, "All data modes tried work") {
		t.Errorf("summary %q", rep.Verdict.Summary)
	}
	for _, m := range []string{"EPSV", "PASV"} {
		c := check(t, rep, m)
		ap := netip.MustParseAddrPort(c.Data.Addr)
		if ap.Addr() != netip.MustParseAddr(host) || !ports.Contains(ap.Port()) {
			t.Errorf("%s connected to %s, want %s in %d-%d", m, ap, host, ports.Min, ports.Max)
		}
		if c.Cause != "" {
			t.Errorf("%s has a cause although all is well: %q", m, c.Cause)
		}
		if ch := channel(t, rep, "client", "passive"); !ch.Seen || !strings.Contains(ch.Rule, fmt.Sprint(ap.Port())) {
			t.Errorf("client passive channel %+v does not name the port seen, %d", ch, ap.Port())
		}
	}
	if ch := channel(t, rep, "client", "control"); !strings.Contains(ch.Rule, fmt.Sprintf("%s port %d", host, port)) {
		t.Errorf("client control channel %q", ch.Rule)
	}
	if ch := channel(t, rep, "client", "active"); !ch.Seen || !strings.Contains(ch.Rule, "inbound from "+host) {
		t.Errorf("client active channel %+v", ch)
	}
}

// The server's passive ports are unreachable: the replies name ports
// nobody listens on, as when a firewall rejects the passive range.
func TestPassiveRangeUnreachable(t *testing.T) {
	closed, _ := peertest.FreePortRange(t, 8)
	host, port := startServer(t, func(c *server.Config) {
		c.PassivePortMap = ftp.PortMap{From: c.PassivePorts, To: uint16(closed)}
	})
	rep := diagnose(t, Options{Host: host, Port: port})

	wantModes(t, rep, []string{"EPRT", "PORT"}, []string{"EPSV", "PASV"})
	for _, m := range []string{"EPSV", "PASV"} {
		wantCause(t, rep, m, "reply was fine", "refused", "firewall rejects its passive port range")
		if c := check(t, rep, m); c.Data.Opened || !strings.HasPrefix(c.Data.Reply, "22") {
			t.Errorf("%s: opened %v after reply %q", m, c.Data.Opened, c.Data.Reply)
		}
	}
	if rep.Verdict.Use != "active" || rep.Verdict.Command != "EPRT" {
		t.Errorf("verdict use %q command %q, want active EPRT", rep.Verdict.Use, rep.Verdict.Command)
	}
	// The ports seen are the advertised ones, inside the mapped range.
	seen := netip.MustParseAddrPort(check(t, rep, "EPSV").Data.Addr).Port()
	if int(seen) < closed || int(seen) >= closed+8 {
		t.Errorf("EPSV connected to port %d, outside the advertised range from %d", seen, closed)
	}
	if ch := channel(t, rep, "server", "passive"); ch.Seen || !strings.Contains(ch.Rule, fmt.Sprint(seen)) {
		t.Errorf("server passive channel %+v should be closed and name the port seen, %d", ch, seen)
	}
}

// A server behind NAT names its private address in PASV. The doctor
// must not connect there (no traffic leaves loopback): it connects to
// the control address and says what the reply means.
func TestPrivatePASVAddress(t *testing.T) {
	private := netip.MustParseAddr("10.0.0.1")
	host, port := startServer(t, func(c *server.Config) { c.Advertise = server.FixedAdvertiser(private) })
	rep := diagnose(t, Options{Host: host, Port: port})

	wantModes(t, rep, []string{"EPSV", "PASV", "EPRT", "PORT"}, []string{})
	c := check(t, rep, "PASV")
	if adv := netip.MustParseAddrPort(c.Data.Advertised); adv.Addr() != private {
		t.Errorf("PASV advertised %s, want %s", c.Data.Advertised, private)
	}
	if got := netip.MustParseAddrPort(c.Data.Addr); got.Addr() != netip.MustParseAddr(host) {
		t.Errorf("PASV connected to %s, want the control address %s", got, host)
	}
	if !strings.Contains(c.Data.Reply, "(10,0,0,1,") {
		t.Errorf("PASV reply %q", c.Data.Reply)
	}
	wantCause(t, rep, "PASV", "behind NAT", "10.0.0.1", "control address "+host+" instead worked")
	if c := check(t, rep, "EPSV"); c.Cause != "" {
		t.Errorf("EPSV names no address, yet has a cause: %q", c.Cause)
	}
}

// The server accepts EPRT and PORT but its connection never arrives, as
// when this machine's firewall or NAT drops it.
func TestActiveNeverArrives(t *testing.T) {
	host, port := startFake(t, fakeOptions{})
	rep := diagnose(t, Options{Host: host, Port: port, DataTimeout: 1500 * time.Millisecond})

	wantModes(t, rep, []string{"EPSV", "PASV"}, []string{"EPRT", "PORT"})
	for _, m := range []string{"EPRT", "PORT"} {
		wantCause(t, rep, m, "never arrived", "client-side firewall or NAT", "passive mode worked")
		if c := check(t, rep, m); c.Data.Reply != "200 ok" || c.Data.Opened {
			t.Errorf("%s reply %q opened %v", m, c.Data.Reply, c.Data.Opened)
		}
	}
	if rep.Verdict.Use != "passive" || !strings.Contains(rep.Verdict.Summary, "active mode does not") {
		t.Errorf("verdict %+v", rep.Verdict)
	}
	if ch := channel(t, rep, "client", "active"); ch.Seen || !strings.Contains(ch.Rule, "port 20 (or any port") {
		t.Errorf("client active channel %+v", ch)
	}
}

func TestActiveDisabled(t *testing.T) {
	host, port := startServer(t, func(c *server.Config) { c.DisableActive = true })
	rep := diagnose(t, Options{Host: host, Port: port})

	wantModes(t, rep, []string{"EPSV", "PASV"}, []string{"EPRT", "PORT"})
	wantCause(t, rep, "EPRT", "refuses EPRT (502", "active mode disabled")
	wantCause(t, rep, "PORT", "refuses PORT (502")
}

func TestTLS(t *testing.T) {
	srvTLS, pool := testTLS(t)
	host, port := startServer(t, func(c *server.Config) { c.TLS, c.RequireTLSData = srvTLS, true })

	t.Run("trusted", func(t *testing.T) {
		rep := diagnose(t, Options{Host: host, Port: port, TLS: &tls.Config{RootCAs: pool}})
		c := check(t, rep, "tls")
		if !c.OK || !strings.Contains(c.Detail, "TLS 1.3") || !strings.Contains(c.Detail, "certificate for ") || !strings.Contains(c.Detail, "127.0.0.1") {
			t.Errorf("tls check: ok %v detail %q", c.OK, c.Detail)
		}
		wantModes(t, rep, []string{"EPSV", "PASV", "EPRT", "PORT"}, []string{})
	})
	t.Run("untrusted", func(t *testing.T) {
		rep := diagnose(t, Options{Host: host, Port: port, TLS: &tls.Config{}})
		wantCause(t, rep, "tls", "authority this machine does not trust", "ferry test")
		if c := check(t, rep, "login"); !c.Skipped {
			t.Errorf("login ran after TLS failed: %+v", c)
		}
		wantModes(t, rep, []string{}, []string{})
		if !strings.Contains(check(t, rep, "feat").Detail, "AUTH TLS") {
			t.Errorf("feat detail %q does not list AUTH TLS", check(t, rep, "feat").Detail)
		}
	})
	t.Run("offered", func(t *testing.T) {
		rep := diagnose(t, Options{Host: host, Port: port})
		if c := check(t, rep, "tls"); !c.OK || !strings.Contains(c.Detail, "offers AUTH TLS") {
			t.Errorf("tls check without --tls: ok %v detail %q", c.OK, c.Detail)
		}
		// The server requires PROT P for transfers: without TLS no listing.
		if rep.OK() {
			t.Errorf("listing worked without TLS on a server requiring it: %+v", rep.Verdict)
		}
	})
}

func TestNothingListening(t *testing.T) {
	port := peertest.FreePort(t)
	rep := diagnose(t, Options{Host: "127.0.0.1", Port: port})
	wantCause(t, rep, "control", "nothing accepts connections on port")
	for _, name := range []string{"tls", "login", "feat", "EPSV", "PASV", "EPRT", "PORT"} {
		if c := check(t, rep, name); !c.Skipped || c.OK {
			t.Errorf("%s ran without a control connection: %+v", name, c)
		}
	}
	if rep.OK() || !strings.Contains(rep.Verdict.Summary, "could not be tested") {
		t.Errorf("verdict %+v", rep.Verdict)
	}
}

func TestBadLogin(t *testing.T) {
	host, port := startServer(t, func(c *server.Config) { c.FailedLoginDelay = time.Millisecond })
	rep := diagnose(t, Options{Host: host, Port: port, User: "mallory", Password: "guess"})
	wantCause(t, rep, "login", "refused the user name or password")
	if c := check(t, rep, "EPSV"); !c.Skipped {
		t.Errorf("EPSV ran after a failed login: %+v", c)
	}
}

// The server's active connection comes from another address than the
// control connection's: the client refuses it, and the doctor says why.
func TestActiveFromOtherAddress(t *testing.T) {
	host, port := startFake(t, fakeOptions{activeFrom: netip.MustParseAddr("127.0.0.2")})
	rep := diagnose(t, Options{Host: host, Port: port, DataTimeout: 1500 * time.Millisecond})

	wantModes(t, rep, []string{"EPSV", "PASV"}, []string{"EPRT", "PORT"})
	for _, m := range []string{"EPRT", "PORT"} {
		wantCause(t, rep, m, "came from 127.0.0.2:", "not from the server's control address 127.0.0.1", "NAT or load balancer")
	}
}

// EPSV's port is unreachable while PASV's works: the mark of a firewall
// FTP helper that opens ports only for the replies it understands.
func TestEPSVOnlyBlocked(t *testing.T) {
	host, port := startFake(t, fakeOptions{epsvDead: true})
	rep := diagnose(t, Options{Host: host, Port: port, DataTimeout: 1500 * time.Millisecond})

	wantModes(t, rep, []string{"PASV"}, []string{"EPSV", "EPRT", "PORT"})
	wantCause(t, rep, "EPSV", "refused", "FTP helper (ALG) that understands PASV but not EPSV")
	if rep.Verdict.Command != "PASV" || rep.Verdict.Use != "passive" ||
		!strings.Contains(rep.Verdict.Summary, "active mode does not (EPRT, PORT). Of the passive commands, EPSV failed.") {
		t.Errorf("verdict %+v", rep.Verdict)
	}
}

// PASV names a public address other than the server's: a middlebox
// rewrote the reply (or the server advertises the wrong address). The
// doctor connects to the control address, never to the one named.
func TestPASVRewritten(t *testing.T) {
	public := netip.MustParseAddr("203.0.113.7")
	host, port := startServer(t, func(c *server.Config) { c.Advertise = server.FixedAdvertiser(public) })
	rep := diagnose(t, Options{Host: host, Port: port})

	wantModes(t, rep, []string{"EPSV", "PASV", "EPRT", "PORT"}, []string{})
	wantCause(t, rep, "PASV", "PASV names 203.0.113.7", "middlebox", "instead worked")
	if got := netip.MustParseAddrPort(check(t, rep, "PASV").Data.Addr).Addr(); got.String() != host {
		t.Errorf("PASV connected to %s, want %s", got, host)
	}
}
