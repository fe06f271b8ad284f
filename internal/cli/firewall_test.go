package cli

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/config"
	"github.com/ferry-ftp/ferry/internal/firewall"
	"github.com/ferry-ftp/ferry/internal/testenv"
)

// firewallConfig is a configuration file the firewall tests share: a
// plain listener on one address, an implicit-TLS one on every interface,
// a port map and active mode from port 20. [tls] is absent on purpose:
// the firewall reads only the keys it needs, so it works on a machine
// without the server's certificate.
const firewallConfig = `
[[listen]]
address = "192.0.2.10:21"
[[listen]]
address = ":990"
implicit_tls = true
[passive]
ports = "40000-40010"
port_map_to = 60000
[active]
enabled = true
from_port_20 = true
`

func firewallFile(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "ferry.toml")
	writeFile(t, file, firewallConfig)
	return file
}

func TestFirewallFromConfig(t *testing.T) {
	file := firewallFile(t)
	code, out, errOut := runCLI(t, "", "firewall", "--config", file, "--format", "nftables")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		`ip daddr 192.0.2.10 tcp dport 21 ct state new accept comment "FTP control (client -> server 21)"`,
		`tcp dport 990 ct state new accept comment "FTPS implicit-TLS control (client -> server 990)"`,
		`tcp dport 40000-40010 ct state new accept comment "passive data (client -> server 40000-40010)"`,
		`ip saddr 192.0.2.10 tcp sport 20 tcp dport 1024-65535 ct state new accept comment "active data (server 20 -> client >1023)"`,
		`tcp sport 989 tcp dport 1024-65535 ct state new accept comment "active data (server 989 -> client >1023)"`,
		"clients are told ports 60000-60010",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestFirewallFlagsOverride(t *testing.T) {
	file := firewallFile(t)
	code, out, errOut := runCLI(t, "", "firewall", "--config", file, "--format", "iptables",
		"--listen", "198.51.100.7:2121", "--passive-ports", "41000-41001", "--no-active-from-port-20", "--allow-tcp", "22")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"-A INPUT -d 198.51.100.7/32 -p tcp --dport 2121 -m conntrack --ctstate NEW",
		"-A INPUT -d 198.51.100.7/32 -p tcp --dport 41000:41001 -m conntrack --ctstate NEW",
		"-A OUTPUT -s 198.51.100.7/32 -p tcp --sport 1024:65535 --dport 1024:65535 -m conntrack --ctstate NEW",
		"-A INPUT -p tcp --dport 22 -m conntrack --ctstate NEW",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	for _, gone := range []string{"192.0.2.10", "--dport 990", "40000", "--sport 20 "} {
		if strings.Contains(out, gone) {
			t.Errorf("%q should be overridden by the flags:\n%s", gone, out)
		}
	}

	code, out, errOut = runCLI(t, "", "firewall", "--config", file, "--format", "ufw", "--no-active")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "ufw allow out") || !strings.Contains(out, "ufw allow in proto tcp to 192.0.2.10 port 21 ") {
		t.Errorf("--no-active: want the control rule and no outbound rule:\n%s", out)
	}
}

func TestFirewallDefaultsWarnLoopback(t *testing.T) {
	code, out, errOut := runCLI(t, "", "firewall", "--format", "firewalld")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "loopback") {
		t.Errorf("no loopback warning on stderr: %q", errOut)
	}
	if !strings.Contains(out, `destination address="127.0.0.1" port port="2121"`) {
		t.Errorf("want the default listener's rule:\n%s", out)
	}
}

func TestFirewallErrors(t *testing.T) {
	file := firewallFile(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"firewall", "--config", file}, "--format"},
		{[]string{"firewall", "--format", "pf"}, "--format"},
		{[]string{"firewall", "--format", "nftables", "--passive-ports", "9-1"}, "passive.ports"},
		{[]string{"firewall", "--format", "nftables", "--listen", "127.0.0.1:0"}, "port 0"},
		{[]string{"firewall", "--format", "nftables", "--listen", "localhost:21"}, "listen[0].address"},
		{[]string{"firewall", "--format", "nftables", "--config", filepath.Join(t.TempDir(), "none.toml")}, "none.toml"},
	} {
		code, out, errOut := runCLI(t, "", c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit %d naming %q and no rules", c.args, code, errOut, out, exitUsage, c.want)
		}
	}
}

// TestFirewallOutputLoads checks what the command prints with the real
// tools, in check mode only: nothing reaches the host's ruleset.
func TestFirewallOutputLoads(t *testing.T) {
	testenv.Root(t)
	file := firewallFile(t)
	for _, c := range []struct {
		format string
		tool   string
		args   []string
	}{
		{"nftables", "nft", []string{"-c", "-f"}},
		{"iptables", "iptables-restore", []string{"--test"}},
		{"ip6tables", "ip6tables-restore", []string{"--test"}},
	} {
		t.Run(c.format, func(t *testing.T) {
			tool := testenv.Tool(t, c.tool)
			code, out, errOut := runCLI(t, "", "firewall", "--config", file, "--format", c.format, "--allow-tcp", "22")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			rules := filepath.Join(t.TempDir(), "rules")
			if err := os.WriteFile(rules, []byte(out), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if msg, err := exec.CommandContext(ctx, tool, append(c.args, rules)...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s\n%s", c.tool, err, msg, out)
			}
		})
	}
}

func TestFirewallSpec(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ferry.toml")
	writeFile(t, file, `
[[listen]]
address = "192.0.2.10:21"
[[listen]]
address = "[2001:db8::10]:990"
implicit_tls = true
[passive]
ports = "40000-40009"
port_map_to = 60000
[active]
enabled = true
from_port_20 = true
`)
	c, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	s, err := firewallSpec(c)
	if err != nil {
		t.Fatal(err)
	}
	want := firewall.Spec{
		Control:           []netip.AddrPort{netip.MustParseAddrPort("192.0.2.10:21")},
		Implicit:          []netip.AddrPort{netip.MustParseAddrPort("[2001:db8::10]:990")},
		Passive:           ftp.PortRange{Min: 40000, Max: 40009},
		PassiveAdvertised: ftp.PortRange{Min: 60000, Max: 60009},
		Active:            true,
		ActiveFromPort20:  true,
	}
	if !equalSpec(s, want) {
		t.Errorf("firewallSpec:\n got %+v\nwant %+v", s, want)
	}

	// The defaults: loopback, the default range, active on.
	s, err = firewallSpec(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Control) != 1 || s.Control[0].String() != "127.0.0.1:2121" || s.Passive.Size() != 101 || !s.Active {
		t.Errorf("firewallSpec(Default()) = %+v", s)
	}

	bad := config.Default()
	bad.Listen = []config.Listen{{Address: "localhost:21"}, {Address: ":0"}}
	bad.Passive.Ports = "9-1"
	_, err = firewallSpec(bad)
	for _, key := range []string{"listen[0].address", "listen[1].address: port 0", "passive.ports"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("want an error naming %q, got %v", key, err)
		}
	}
}

func TestFirewallSpecOfExampleConfig(t *testing.T) {
	c, err := config.Load(filepath.Join("..", "..", "ferry.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := firewallSpec(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := firewall.Write(new(bytes.Buffer), s, firewall.NFTables); err != nil {
		t.Fatal(err)
	}
}

func equalSpec(a, b firewall.Spec) bool {
	return slices.Equal(a.Control, b.Control) && slices.Equal(a.Implicit, b.Implicit) && a.Passive == b.Passive &&
		a.PassiveAdvertised == b.PassiveAdvertised && a.Active == b.Active &&
		a.ActiveFromPort20 == b.ActiveFromPort20 && a.ActiveAnyPeer == b.ActiveAnyPeer && slices.Equal(a.Allow, b.Allow)
}
