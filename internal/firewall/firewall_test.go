package firewall

import (
	"bytes"
	"context"
	"flag"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var passive = ftp.PortRange{Min: 50000, Max: 50100}

func aps(ss ...string) []netip.AddrPort {
	var out []netip.AddrPort
	for _, s := range ss {
		out = append(out, netip.MustParseAddrPort(s))
	}
	return out
}

// cases are the specs every format is written for, golden-checked and
// loaded by the real tools.
var cases = []struct {
	name string
	spec Spec
}{
	{"wildcard", Spec{Control: aps("[::]:21"), Passive: passive, Active: true}},
	{"no-active", Spec{Control: aps("[::]:21"), Passive: passive}},
	{"from-port-20", Spec{Control: aps("[::]:21"), Implicit: aps("[::]:990"), Passive: passive, Active: true, ActiveFromPort20: true}},
	{"implicit-tls", Spec{Control: aps("0.0.0.0:2121"), Implicit: aps("0.0.0.0:990"), Passive: passive, Active: true}},
	{"ipv6", Spec{Control: aps("[2001:db8::10]:21", "192.0.2.10:21"), Passive: passive, Active: true, ActiveFromPort20: true}},
	{"ipv6-only", Spec{Control: aps("[2001:db8::10]:21", "[2001:db8::11]:21"), Passive: passive}},
	{"specific-ip", Spec{Control: aps("192.0.2.10:2121", "198.51.100.7:2121"), Passive: passive, Active: true, ActiveFromPort20: true}},
	{"port-map", Spec{Control: aps("[::]:21"), Passive: passive, PassiveAdvertised: ftp.PortRange{Min: 40000, Max: 40100}, Active: true, ActiveAnyPeer: true, Allow: []uint16{22}}},
}

func TestGolden(t *testing.T) {
	for _, c := range cases {
		for _, f := range Formats() {
			t.Run(c.name+"/"+string(f), func(t *testing.T) {
				got := write(t, c.spec, f)
				golden := filepath.Join("testdata", c.name+"."+string(f))
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("output differs from %s (go test -update rewrites it):\n%s", golden, got)
				}
				if again := write(t, c.spec, f); !bytes.Equal(got, again) {
					t.Error("two writes of the same spec differ")
				}
			})
		}
	}
}

func write(t *testing.T, s Spec, f Format) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, s, f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestChannels checks the rules against the server-side channels of each
// mode, independently of the golden files.
func TestChannels(t *testing.T) {
	nft := func(s Spec) string { return string(write(t, s, NFTables)) }

	t.Run("control and passive, active ephemeral", func(t *testing.T) {
		out := nft(cases[0].spec)
		for _, want := range []string{
			`tcp dport 21 ct state new accept comment "FTP control (client -> server 21)"`,
			`tcp dport 50000-50100 ct state new accept comment "passive data (client -> server 50000-50100)"`,
			`tcp sport 1024-65535 tcp dport 1024-65535 ct state new accept comment "active data (server >1023 -> client >1023)"`,
			`ct state established,related accept`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("missing %q in\n%s", want, out)
			}
		}
	})
	t.Run("no active", func(t *testing.T) {
		for _, f := range Formats() {
			if out := write(t, cases[1].spec, f); bytes.Contains(out, []byte("active data (")) {
				t.Errorf("%s: active rule with active mode off:\n%s", f, out)
			}
		}
	})
	t.Run("from port 20 per control port", func(t *testing.T) {
		out := nft(cases[2].spec)
		for _, want := range []string{
			`tcp sport 20 tcp dport 1024-65535 ct state new accept comment "active data (server 20 -> client >1023)"`,
			`tcp sport 989 tcp dport 1024-65535 ct state new accept comment "active data (server 989 -> client >1023)"`,
			`tcp dport 990 ct state new accept comment "FTPS implicit-TLS control (client -> server 990)"`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("missing %q in\n%s", want, out)
			}
		}
	})
	t.Run("specific addresses restrict", func(t *testing.T) {
		out := nft(cases[6].spec)
		for _, want := range []string{
			`ip daddr { 192.0.2.10, 198.51.100.7 } tcp dport 2121 ct state new`,
			`ip daddr { 192.0.2.10, 198.51.100.7 } tcp dport 50000-50100 ct state new`,
			`ip saddr { 192.0.2.10, 198.51.100.7 } tcp sport 2120 tcp dport 1024-65535 ct state new`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("missing %q in\n%s", want, out)
			}
		}
		if strings.Contains(out, "ip6 ") {
			t.Errorf("IPv6 rule for IPv4-only listeners:\n%s", out)
		}
	})
	t.Run("port map opens the local range", func(t *testing.T) {
		out := nft(cases[7].spec)
		if !strings.Contains(out, "tcp dport 50000-50100 ct state new") || strings.Contains(out, "dport 40000") {
			t.Errorf("want the local range opened, not the advertised one:\n%s", out)
		}
		if !strings.Contains(out, "forward\n# them to this host's ports 50000-50100") {
			t.Errorf("no router note:\n%s", out)
		}
		if !strings.Contains(out, `tcp sport 1024-65535 ct state new accept comment "active data (server >1023 -> client any)"`) {
			t.Errorf("active.any_peer should allow every client port:\n%s", out)
		}
	})
	t.Run("iptables splits families", func(t *testing.T) {
		s := cases[4].spec
		v4out, v6out := string(write(t, s, IPTables)), string(write(t, s, IP6Tables))
		if !strings.Contains(v4out, "-A INPUT -d 192.0.2.10/32 -p tcp --dport 21 ") || strings.Contains(v4out, "2001:db8") {
			t.Errorf("iptables:\n%s", v4out)
		}
		if !strings.Contains(v6out, "-A INPUT -d 2001:db8::10/128 -p tcp --dport 21 ") || strings.Contains(v6out, "192.0.2.10/") {
			t.Errorf("ip6tables:\n%s", v6out)
		}
		if !strings.Contains(v4out, "--format ip6tables") {
			t.Errorf("iptables output does not point at the IPv6 rules:\n%s", v4out)
		}
	})
	t.Run("mapped and zoned addresses", func(t *testing.T) {
		s := Spec{Control: aps("[::ffff:192.0.2.1]:21", "[fe80::1%eth0]:21"), Passive: passive}
		out := nft(s)
		if !strings.Contains(out, "ip daddr 192.0.2.1 tcp dport 21") || !strings.Contains(out, "ip6 daddr fe80::1 tcp dport 21") {
			t.Errorf("want the unmapped, unzoned addresses:\n%s", out)
		}
	})
}

func TestInvalid(t *testing.T) {
	for _, c := range []struct {
		name string
		spec Spec
		want string
	}{
		{"no listener", Spec{Passive: passive}, "no control listener"},
		{"port 0", Spec{Control: aps("127.0.0.1:0"), Passive: passive}, "port 0"},
		{"no passive", Spec{Control: aps("[::]:21")}, "no passive port range"},
		{"advertised size", Spec{Control: aps("[::]:21"), Passive: passive, PassiveAdvertised: ftp.PortRange{Min: 1, Max: 2}}, "not the size"},
	} {
		err := Write(new(bytes.Buffer), c.spec, NFTables)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if err := Write(new(bytes.Buffer), cases[0].spec, "pf"); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Errorf("unknown format: got %v", err)
	}
}

// TestNFTablesLoads has nft parse and check every nftables output
// against the kernel without changing the ruleset (-c).
func TestNFTablesLoads(t *testing.T) {
	testenv.Root(t)
	nft := testenv.Tool(t, "nft")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check(t, write(t, c.spec, NFTables), nft, "-c", "-f")
		})
	}
}

// TestIPTablesLoads has iptables-restore and ip6tables-restore check
// every output (--test: nothing is committed).
func TestIPTablesLoads(t *testing.T) {
	testenv.Root(t)
	for _, f := range []Format{IPTables, IP6Tables} {
		tool := testenv.Tool(t, string(f)+"-restore")
		for _, c := range cases {
			t.Run(string(f)+"/"+c.name, func(t *testing.T) {
				check(t, write(t, c.spec, f), tool, "--test")
			})
		}
	}
}

// check writes rules to a file and runs tool with args and the file's
// name last; the tool must accept it.
func check(t *testing.T, rules []byte, tool string, args ...string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "rules")
	if err := os.WriteFile(file, rules, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool, append(args, file)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s\nrules:\n%s", tool, strings.Join(args, " "), err, out, rules)
	}
}

// TestUFWScriptDryRun runs every ufw script with ufw replaced by
// `ufw --dry-run`, which parses each rule and changes nothing (the test
// command installs ufw; installing it does not enable it).
func TestUFWScriptDryRun(t *testing.T) {
	ufw := testenv.Tool(t, "ufw")
	testenv.Root(t)
	shim := t.TempDir()
	wrapper := "#!/bin/sh\nexec " + ufw + " --dry-run \"$@\"\n"
	if err := os.WriteFile(filepath.Join(shim, "ufw"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			script := filepath.Join(t.TempDir(), "rules.sh")
			if err := os.WriteFile(script, write(t, c.spec, UFW), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "sh", script)
			cmd.Env = append(os.Environ(), "PATH="+shim+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if n, want := strings.Count(string(out), "Rules updated"), strings.Count(string(write(t, c.spec, UFW)), "\nufw "); n < want {
				t.Errorf("ufw updated rules %d times for %d commands:\n%s", n, want, out)
			}
		})
	}
}
