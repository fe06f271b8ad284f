package netlab_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/netlab"
	"github.com/ferry-ftp/ferry/internal/testenv"
)

// Scenario 1: passive mode through both NATs.
func TestPassiveThroughNAT(t *testing.T) {
	lab := netlab.Start(t, netlab.Options{})
	fix := newFixture(t)

	t.Run("public address advertised", func(t *testing.T) {
		srv := startServer(t, lab, fix, serverConfig{advertise: netlab.ServerPublicIPv4.String()})
		// A strict client connects where the 227 reply says.
		res := srv.mustGet(t, netlab.Client, netlab.ServerPublicIPv4, "-mode", "pasv", "-trust-pasv")
		if got := advertisedHost(t, res); got != netlab.ServerPublicIPv4 {
			t.Errorf("PASV advertised %s, want %s", got, netlab.ServerPublicIPv4)
		}
		if out, err := curlStrict(t, lab, fix); err != nil || out != fix.sha256 {
			t.Errorf("curl, strict PASV: sha256 %s, %v; want %s", out, err, fix.sha256)
		}
	})

	t.Run("EPSV without an advertised address", func(t *testing.T) {
		srv := startServer(t, lab, fix, serverConfig{})
		res := srv.mustGet(t, netlab.Client, netlab.ServerPublicIPv4, "-mode", "epsv")
		if res.Command != "EPSV" || res.Addr != netip.AddrPortFrom(netlab.ServerPublicIPv4, advertisedPort(t, res)).String() {
			t.Errorf("EPSV data connection %s to %s; want EPSV to the control address", res.Command, res.Addr)
		}
	})

	t.Run("private address advertised", func(t *testing.T) {
		srv := startServer(t, lab, fix, serverConfig{advertise: netlab.ServerIPv4.String()})
		res := srv.mustFail(t, netlab.Client, netlab.ServerPublicIPv4, "data connection to "+netlab.ServerIPv4.String(), "-mode", "pasv", "-trust-pasv")
		if got := advertisedHost(t, res); got != netlab.ServerIPv4 {
			t.Errorf("PASV advertised %s, want the private %s", got, netlab.ServerIPv4)
		}
		if out, err := curlStrict(t, lab, fix); err == nil {
			t.Errorf("curl, strict PASV, got the file (sha256 %s) from an unreachable address", out)
		}
		// ferry's client replaces the private address by the control
		// connection's peer, and says so.
		res = srv.mustGet(t, netlab.Client, netlab.ServerPublicIPv4, "-mode", "pasv")
		want := fmt.Sprintf("PASV reply names %s, not the control connection's peer %s", netlab.ServerIPv4, netlab.ServerPublicIPv4)
		if !containsNote(res, want) {
			t.Errorf("client notes %q; want one starting %q", res.Notes, want)
		}
	})
}

// curlStrict downloads the fixture with curl from the client host in
// PASV mode, trusting the address of the 227 reply as older clients do,
// and returns the sha256 of what it got.
func curlStrict(t *testing.T, lab *netlab.Lab, fix fixture) (string, error) {
	t.Helper()
	curl := testenv.Tool(t, "curl")
	url := fmt.Sprintf("ftp://%s:%d/%s", netlab.ServerPublicIPv4, lab.Options().ControlPort, fix.name)
	out, err := lab.Run(context.Background(), netlab.Client, 60*time.Second, nil, curl,
		"-sS", "--connect-timeout", "5", "--max-time", "30", "--disable-epsv", "--no-ftp-skip-pasv-ip", url)
	sum := sha256.Sum256(out)
	return hex.EncodeToString(sum[:]), err
}

func containsNote(res result, prefix string) bool {
	for _, n := range res.Notes {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// Scenario 2: active mode behind the client's NAT.
func TestActiveBehindNAT(t *testing.T) {
	lab := netlab.Start(t, netlab.Options{})
	fix := newFixture(t)
	srv := startServer(t, lab, fix, serverConfig{advertise: netlab.ServerPublicIPv4.String()})
	url := fmt.Sprintf("ftp://%s:%d/%s", netlab.ServerPublicIPv4, lab.Options().ControlPort, fix.name)

	t.Run("fails from the NATed client", func(t *testing.T) {
		for _, mode := range []string{"eprt", "port"} {
			res := srv.mustFail(t, netlab.Client, netlab.ServerPublicIPv4, "501", "-mode", mode)
			// The client announced its private address, which the
			// server does not see it come from.
			if !strings.Contains(res.Advertised, netlab.ClientIPv4.String()) {
				t.Errorf("%s announced %q; want the client's private address %s", mode, res.Advertised, netlab.ClientIPv4)
			}
		}
	})
	t.Run("works from the stranger", func(t *testing.T) {
		// The same server connects out fine to a host without NAT: the
		// failure above is the client side's.
		srv.mustGet(t, netlab.Stranger, netlab.ServerPublicIPv4, "-mode", "active")
	})
	t.Run("ferry get --mode auto", func(t *testing.T) {
		// From the NATed client, auto mode's passive first choice
		// works: no fallback needed.
		dest := filepath.Join(t.TempDir(), "got.bin")
		out := ferryCLI(t, lab, netlab.Client, "get", "--mode", "auto", url, dest)
		if sum := fileSHA256(t, dest); sum != fix.sha256 {
			t.Errorf("downloaded sha256 %s, want %s\n%s", sum, fix.sha256, out)
		}
	})
	t.Run("ferry get --mode auto falls back and says why", func(t *testing.T) {
		// The server's host firewall forgets the passive range for the
		// inside host: passive cannot connect. Active mode, the server
		// connecting out, still works, and auto mode must switch to it
		// and say why.
		opts := lab.Options()
		block := fmt.Sprintf("table inet netlab_block {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"+
			"\t\tip saddr %s tcp dport %d-%d drop\n\t}\n}\n", netlab.InsideIPv4, opts.PassivePorts.Min, opts.PassivePorts.Max)
		if err := lab.Nft(context.Background(), netlab.Server, block); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := lab.Nft(context.Background(), netlab.Server, "delete table inet netlab_block\n"); err != nil {
				t.Error(err)
			}
		})
		url := fmt.Sprintf("ftp://%s:%d/%s", netlab.ServerIPv4, lab.Options().ControlPort, fix.name)
		says := func(out string) bool {
			return strings.Contains(out, "passive data connection failed") && strings.Contains(out, "switched to active")
		}
		// The transcript of --debug shows the client's decision.
		dest := filepath.Join(t.TempDir(), "debug.bin")
		out := ferryCLI(t, lab, netlab.Inside, "get", "--debug", "--mode", "auto", "--timeout", "5s", url, dest)
		if sum := fileSHA256(t, dest); sum != fix.sha256 {
			t.Errorf("downloaded sha256 %s, want %s", sum, fix.sha256)
		}
		if !says(out) {
			t.Fatalf("ferry get --debug --mode auto did not switch to active, or does not say why:\n%s", out)
		}
		// Without --debug the user must still be told: the next
		// transfer of this kind will behave the same way.
		dest = filepath.Join(t.TempDir(), "got.bin")
		out = ferryCLI(t, lab, netlab.Inside, "get", "--mode", "auto", "--timeout", "5s", url, dest)
		if sum := fileSHA256(t, dest); sum != fix.sha256 {
			t.Errorf("downloaded sha256 %s, want %s", sum, fix.sha256)
		}
		if !says(out) {
			t.Errorf("ferry get --mode auto switched to active without saying why (only --debug tells):\n%s", out)
		}
	})
	t.Run("ferry doctor blames the client side", func(t *testing.T) {
		if !hasCommand(t, "doctor") {
			testenv.Missing(t, "ferry doctor is not part of this build yet")
		}
		out := ferryCLI(t, lab, netlab.Client, "doctor", "--json", "--data-timeout", "5s",
			fmt.Sprintf("ftp://%s:%d/", netlab.ServerPublicIPv4, lab.Options().ControlPort))
		var rep struct {
			Checks []struct {
				Name  string `json:"name"`
				OK    bool   `json:"ok"`
				Cause string `json:"cause"`
			} `json:"checks"`
			Verdict struct {
				Working  []string `json:"working"`
				Failing  []string `json:"failing"`
				Channels []struct {
					Side string `json:"side"`
					For  string `json:"for"`
					Rule string `json:"rule"`
					Seen bool   `json:"seen"`
				} `json:"channels"`
			} `json:"verdict"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("ferry doctor --json: %v", err)
		}
		for _, m := range []string{"EPSV", "PASV"} {
			if !slices.Contains(rep.Verdict.Working, m) {
				t.Errorf("doctor: %s not among the working modes %v", m, rep.Verdict.Working)
			}
		}
		for _, m := range []string{"EPRT", "PORT"} {
			if !slices.Contains(rep.Verdict.Failing, m) {
				t.Errorf("doctor: %s not among the failing modes %v", m, rep.Verdict.Failing)
			}
		}
		for _, c := range rep.Checks {
			if (c.Name == "EPRT" || c.Name == "PORT") && !strings.Contains(c.Cause, "this machine is behind NAT") {
				t.Errorf("doctor: %s failed for %q; want the client side's NAT named", c.Name, c.Cause)
			}
		}
		// The channels active mode would need on this side, not open now.
		var active bool
		for _, ch := range rep.Verdict.Channels {
			if ch.Side == "client" && ch.For == "active" && !ch.Seen && strings.Contains(ch.Rule, "inbound") {
				active = true
			}
		}
		if !active {
			t.Errorf("doctor: no unseen client-side inbound channel for active mode in %+v", rep.Verdict.Channels)
		}
	})
}

// ferryCLI runs the ferry command line in h and returns its standard
// output and error, failing the test if it fails.
func ferryCLI(t *testing.T, lab *netlab.Lab, h netlab.Host, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := lab.Command(ctx, h, ferryBinary(t), args...).CombinedOutput()
	t.Logf("ferry %s in %s:\n%s", strings.Join(args, " "), h, out)
	if err != nil {
		t.Fatalf("ferry %s in %s: %v", strings.Join(args, " "), h, err)
	}
	return string(out)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return "\n" + err.Error()
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Scenario 3: split horizon, per-client-network advertised addresses.
func TestSplitHorizon(t *testing.T) {
	lab := netlab.Start(t, netlab.Options{})
	fix := newFixture(t)
	srv := startServer(t, lab, fix, serverConfig{
		advertise: netlab.ServerPublicIPv4.String(),
		networks:  [][2]string{{netlab.ServerNetwork.String(), netlab.ServerIPv4.String()}},
	})
	for _, c := range []struct {
		from netlab.Host
		dial netip.Addr
		want netip.Addr
	}{
		{netlab.Inside, netlab.ServerIPv4, netlab.ServerIPv4},
		{netlab.Client, netlab.ServerPublicIPv4, netlab.ServerPublicIPv4},
		{netlab.Stranger, netlab.ServerPublicIPv4, netlab.ServerPublicIPv4},
	} {
		res := srv.mustGet(t, c.from, c.dial, "-mode", "pasv", "-trust-pasv")
		if got := advertisedHost(t, res); got != c.want {
			t.Errorf("%s was told %s, want %s", c.from, got, c.want)
		}
	}
}

// Scenario 4: the server host's own firewall.
func TestServerFirewall(t *testing.T) {
	lab := netlab.Start(t, netlab.Options{})
	fix := newFixture(t)
	srv := startServer(t, lab, fix, serverConfig{advertise: netlab.ServerPublicIPv4.String()})
	// A service outside the passive range, reachable before the
	// firewall is loaded: the probe below can fail.
	const otherPort = 40000
	startListener(t, lab, netlab.Server, fmt.Sprintf("[::]:%d", otherPort))
	probe := netip.AddrPortFrom(netlab.ServerIPv4, otherPort).String()
	if res := helper(t, lab, netlab.Inside, "probe", "-addr", probe); !res.Connected {
		t.Fatalf("before the firewall, port %d: %+v; want it reachable", otherPort, res)
	}

	rules := srv.firewall(t)
	t.Logf("server firewall:\n%s", rules)
	if err := lab.Nft(context.Background(), netlab.Server, rules); err != nil {
		t.Fatal(err)
	}

	srv.mustGet(t, netlab.Client, netlab.ServerPublicIPv4, "-mode", "pasv", "-trust-pasv")
	srv.mustGet(t, netlab.Client, netlab.ServerPublicIPv4, "-mode", "epsv")
	srv.mustGet(t, netlab.Inside, netlab.ServerIPv4, "-mode", "epsv")
	srv.mustGet(t, netlab.Stranger, netlab.ServerPublicIPv4, "-mode", "active")
	srv.mustGet(t, netlab.Inside, netlab.ServerIPv4, "-mode", "eprt")
	if res := helper(t, lab, netlab.Inside, "probe", "-addr", probe); res.Connected || !res.Timeout {
		t.Errorf("with the firewall, port %d: %+v; want dropped (timeout)", otherPort, res)
	}
}

// firewall returns the host-firewall ruleset `ferry firewall --format
// nftables` generates from the server's own configuration file.
func (s *ferryServer) firewall(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ferryBinary(t), "firewall", "--format", "nftables", "--config", s.config).Output()
	if err != nil {
		t.Fatalf("ferry firewall: %v", err)
	}
	return string(out)
}

// Scenario 5: port theft.
func TestPortTheft(t *testing.T) {
	lab := netlab.Start(t, netlab.Options{})
	fix := newFixture(t)
	startServer(t, lab, fix, serverConfig{advertise: netlab.ServerPublicIPv4.String()})

	victim := startHelper(t, lab, netlab.Client, "theft",
		"-addr", netip.AddrPortFrom(netlab.ServerPublicIPv4, lab.Options().ControlPort).String(), "-path", fix.name)
	pasv := victim.next(t)
	if pasv.Port == 0 {
		t.Fatalf("victim got no passive port: %+v", pasv)
	}

	// The stranger reaches the pending port through the router's
	// forward and waits there, first in line.
	thief := startHelper(t, lab, netlab.Stranger, "probe", "-announce", "-timeout", "30s",
		"-addr", netip.AddrPortFrom(netlab.ServerPublicIPv4, pasv.Port).String())
	if r := thief.next(t); !r.Connected {
		t.Fatalf("stranger could not reach the pending port: %+v", r)
	}
	// Now the victim connects and asks for the file: the server must
	// pass over the stranger, close its connection without a byte, and
	// serve the victim.
	victim.send(t, "go\n")
	if r := victim.next(t); r.Err != "" || r.SHA256 != fix.sha256 {
		t.Errorf("victim after the theft: %+v; want the file intact (%s)", r, fix.sha256)
	}
	if r := thief.next(t); r.Bytes != 0 || r.Timeout || r.Err != "" {
		t.Errorf("stranger on the pending port: %+v; want its connection closed without data", r)
	}
}

// helperProc is a helper that reports in several JSON lines and may be
// told to go on through its standard input.
type helperProc struct {
	stdin io.WriteCloser
	lines *bufio.Scanner
}

func startHelper(t *testing.T, lab *netlab.Lab, h netlab.Host, args ...string) *helperProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	cmd := lab.Command(ctx, h, "env", append([]string{helperEnv + "=1", helperPath(t)}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cancel()
		cmd.Wait()
	})
	return &helperProc{stdin: stdin, lines: bufio.NewScanner(stdout)}
}

func (p *helperProc) next(t *testing.T) result {
	t.Helper()
	if !p.lines.Scan() {
		t.Fatalf("helper: no result (%v)", p.lines.Err())
	}
	var r result
	if err := json.Unmarshal(p.lines.Bytes(), &r); err != nil {
		t.Fatalf("helper: %v in %q", err, p.lines.Bytes())
	}
	return r
}

func (p *helperProc) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, s); err != nil {
		t.Fatal(err)
	}
}

// Scenario 6: the router maps public ports onto a different private range.
func TestPortMapping(t *testing.T) {
	private := ftp.PortRange{Min: 50000, Max: 50100}
	public := ftp.PortRange{Min: 60000, Max: 60100}
	lab := netlab.Start(t, netlab.Options{PassivePorts: private, PublicPassivePorts: public})
	fix := newFixture(t)

	t.Run("without the mapping", func(t *testing.T) {
		srv := startServer(t, lab, fix, serverConfig{advertise: netlab.ServerPublicIPv4.String()})
		res := srv.mustFail(t, netlab.Client, netlab.ServerPublicIPv4, "data connection to "+netlab.ServerPublicIPv4.String(), "-mode", "epsv")
		if p := advertisedPort(t, res); !private.Contains(p) {
			t.Errorf("EPSV named port %d, want the private range %v", p, private)
		}
	})
	t.Run("with the mapping", func(t *testing.T) {
		srv := startServer(t, lab, fix, serverConfig{advertise: netlab.ServerPublicIPv4.String(), portMapTo: int(public.Min)})
		for _, mode := range []string{"epsv", "pasv"} {
			res := srv.mustGet(t, netlab.Client, netlab.ServerPublicIPv4, "-mode", mode, "-trust-pasv")
			if p := advertisedPort(t, res); !public.Contains(p) {
				t.Errorf("%s named port %d, want the public range %v", mode, p, public)
			}
		}
	})
}

// Scenario 7: IPv6, routed without NAT through the same stateful firewalls.
func TestIPv6(t *testing.T) {
	lab := netlab.Start(t, netlab.Options{})
	fix := newFixture(t)
	srv := startServer(t, lab, fix, serverConfig{advertise: netlab.ServerPublicIPv4.String()})

	res := srv.mustGet(t, netlab.Client, netlab.ServerIPv6, "-mode", "epsv")
	if res.Command != "EPSV" {
		t.Errorf("data connection by %s, want EPSV", res.Command)
	}
	res = srv.mustGet(t, netlab.Stranger, netlab.ServerIPv6, "-mode", "eprt")
	if res.Command != "EPRT" || !strings.Contains(res.Advertised, netlab.StrangerIPv6.String()) {
		t.Errorf("stranger's active connection: %s announcing %s; want EPRT with %s", res.Command, res.Advertised, netlab.StrangerIPv6)
	}
	// Without NAT the client's EPRT names its real address, but its
	// router's stateful firewall drops the server's connection.
	srv.mustFail(t, netlab.Client, netlab.ServerIPv6, "425", "-mode", "eprt")
}

// Scenario 8: the passive and active scenarios with FTPS (PROT P), where
// no NAT helper could rewrite the addresses even if it wanted to.
func TestFTPS(t *testing.T) {
	lab := netlab.Start(t, netlab.Options{})
	fix := newFixture(t)
	files := newTLSFiles(t)
	ca := []string{"-ca", files.cert}

	t.Run("public address advertised", func(t *testing.T) {
		srv := startServer(t, lab, fix, serverConfig{advertise: netlab.ServerPublicIPv4.String(), tls: &files})
		srv.mustGet(t, netlab.Client, netlab.ServerPublicIPv4, append(ca, "-mode", "pasv", "-trust-pasv")...)
		srv.mustGet(t, netlab.Client, netlab.ServerPublicIPv4, append(ca, "-mode", "epsv")...)
		srv.mustGet(t, netlab.Client, netlab.ServerIPv6, append(ca, "-mode", "epsv")...)
		srv.mustGet(t, netlab.Stranger, netlab.ServerPublicIPv4, append(ca, "-mode", "active")...)
		srv.mustFail(t, netlab.Client, netlab.ServerPublicIPv4, "501", append(ca, "-mode", "active")...)
		// The server requires PROT P: the transfers above were protected.
		srv.mustFail(t, netlab.Client, netlab.ServerPublicIPv4, "534", "-mode", "epsv")
	})
	t.Run("private address advertised", func(t *testing.T) {
		// The router could not rewrite the 227 reply inside TLS even
		// with an FTP helper: the strict client fails, ferry's recovers.
		srv := startServer(t, lab, fix, serverConfig{advertise: netlab.ServerIPv4.String(), tls: &files})
		srv.mustFail(t, netlab.Client, netlab.ServerPublicIPv4, "data connection to "+netlab.ServerIPv4.String(), append(ca, "-mode", "pasv", "-trust-pasv")...)
		res := srv.mustGet(t, netlab.Client, netlab.ServerPublicIPv4, append(ca, "-mode", "pasv")...)
		if !containsNote(res, fmt.Sprintf("PASV reply names %s", netlab.ServerIPv4)) {
			t.Errorf("client notes %q; want the PASV address replaced", res.Notes)
		}
	})
}
