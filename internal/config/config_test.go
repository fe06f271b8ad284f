package config

import (
	"context"
	"crypto/tls"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/auth"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
)

// fakeLookup resolves only ftp.example.test, so no test touches the network.
func fakeLookup(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if host == "ftp.example.test" {
		return []netip.Addr{netip.MustParseAddr("203.0.113.7")}, nil
	}
	return nil, errors.New("no such host")
}

// fixture is a directory with what configs refer to: pub/, users.toml
// (empty), a key pair, a file that is not a directory.
func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "pub"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "users.toml"), nil, 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "plain"), []byte("x"), 0o600))
	writeKeyPair(t, dir)
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeKeyPair(t *testing.T, dir string) {
	t.Helper()
	testenv.SelfSigned(t).WriteFiles(t, dir)
}

// load writes body as ferry.toml in dir and loads it.
func load(t *testing.T, dir, body string) (*Config, error) {
	t.Helper()
	path := filepath.Join(dir, "ferry.toml")
	must(t, os.WriteFile(path, []byte(body), 0o600))
	c, err := Load(path)
	if c != nil {
		c.lookup = fakeLookup
	}
	return c, err
}

// base is a valid configuration the error cases add to.
const base = `
[users]
file = "users.toml"
`

func TestExampleLoadsAndValidates(t *testing.T) {
	dir := fixture(t)
	data, err := os.ReadFile("../../ferry.example.toml")
	must(t, err)
	c, err := load(t, dir, string(data))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	b, err := c.Build(t.Context(), nil)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	defer b.Store.Close()
	// Relative paths resolve against the file's directory.
	if got, want := c.Path(c.Anonymous.Root), filepath.Join(dir, "pub"); got != want {
		t.Errorf("anonymous root %q, want %q", got, want)
	}
	if b.Server.PassivePorts != (ftp.PortRange{Min: 50000, Max: 50100}) {
		t.Errorf("passive ports %+v", b.Server.PassivePorts)
	}
	if b.Server.IdleTimeout != 5*time.Minute || b.ShutdownGrace != 30*time.Second {
		t.Errorf("timeouts %v %v", b.Server.IdleTimeout, b.ShutdownGrace)
	}
	if len(b.Listen) != 1 || b.Listen[0] != netip.MustParseAddrPort("127.0.0.1:2121") {
		t.Errorf("listen %v", b.Listen)
	}
	if b.Server.TLS != nil || b.Server.DisableActive || !b.Server.AtomicUploads {
		t.Errorf("server config %+v", b.Server)
	}
	// The example states the defaults: loading it must equal Default
	// plus its users and anonymous keys.
	d := Default()
	d.Users.File, d.Anonymous.Enabled, d.Anonymous.Root = "users.toml", true, "pub"
	d.Passive.Address, d.Log.File = "", ""
	c.dir, d.dir, c.lookup, c.cert, c.passiveAddr = "", "", nil, nil, netip.Addr{}
	if !reflect.DeepEqual(c, d) {
		t.Errorf("example differs from the defaults:\n%+v\nwant\n%+v", c, d)
	}
}

func TestFullConfig(t *testing.T) {
	dir := fixture(t)
	c, err := load(t, dir, `
[[listen]]
address = "127.0.0.1:2121"
[[listen]]
address = ":2990"
implicit_tls = true
[tls]
cert_file = "cert.pem"
key_file = "key.pem"
require_for_login = true
require_for_data = true
min_version = "1.3"
session_reuse = "enforce"
[passive]
ports = "40000-40009"
address = "ftp.example.test"
address_refresh = "1m"
port_map_to = 30000
any_peer = true
[[passive.networks]]
clients = "10.0.0.0/8"
address = "10.0.0.5"
[active]
enabled = false
[timeouts]
idle = "90s"
[limits]
max_per_ip = -1
max_per_user = 2
command_rate = 5.5
command_burst = 20
download_rate = 1000000
upload_rate = 500000
ban_after = -1
ban_window = "1m"
ban_for = "1h"
[users]
file = "users.toml"
[anonymous]
enabled = true
root = "pub"
permissions = ["list"]
download_rate = 1000
[log]
format = "json"
level = "debug"
`)
	must(t, err)
	b, err := c.Build(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Store.Close()
	s := b.Server
	if s.TLS == nil || s.TLS.MinVersion != tls.VersionTLS13 || len(s.TLS.Certificates) != 1 {
		t.Errorf("tls %+v", s.TLS)
	}
	if !s.RequireTLSLogin || !s.RequireTLSData || !s.DisableActive || !s.PassiveAnyPeer {
		t.Errorf("flags %+v", s)
	}
	if s.PassivePortMap.Map(40001) != 30001 {
		t.Errorf("port map %+v", s.PassivePortMap)
	}
	if s.Ban != (server.BanPolicy{After: -1}) { // off: window and length do not matter
		t.Errorf("ban %+v", s.Ban)
	}
	if s.TLSReuse != server.TLSReuseEnforce || s.MaxSessionsPerUser != 2 || s.CommandRate != 5.5 ||
		s.CommandBurst != 20 || s.DownloadRate != 1000000 || s.UploadRate != 500000 {
		t.Errorf("limits %+v", s)
	}
	if u, err := b.Store.Authenticate(t.Context(), server.LoginRequest{User: "anonymous"}); err != nil || u.DownloadRate != 1000 {
		t.Errorf("anonymous user %+v, %v", u, err)
	}
	if s.IdleTimeout != 90*time.Second || s.MaxSessionsPerIP != -1 {
		t.Errorf("idle %v per ip %d", s.IdleTimeout, s.MaxSessionsPerIP)
	}
	if c.Anonymous.Permissions[0] != "list" || len(c.Anonymous.Permissions) != 1 {
		t.Errorf("permissions %q: the file must replace the default list", c.Anonymous.Permissions)
	}
	// Split horizon: LAN clients get the LAN address without a lookup.
	got, err := s.Advertise.Advertise(t.Context(), netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("10.1.2.3"))
	if err != nil || got != netip.MustParseAddr("10.0.0.5") {
		t.Errorf("advertise to LAN = %v, %v", got, err)
	}
	if len(b.Listen) != 2 || b.Listen[1].Port() != 2990 || !b.Listen[1].Addr().IsUnspecified() {
		t.Errorf("listen %v", b.Listen)
	}
	if !hasWarning(b.Warnings, "any_peer") || hasWarning(b.Warnings, "without [tls]") {
		t.Errorf("no FXP warning in %q", b.Warnings)
	}
}

func TestWarnsOfMissingHome(t *testing.T) {
	dir := fixture(t)
	must(t, os.WriteFile(filepath.Join(dir, "users.toml"), []byte(
		"[[user]]\nname = \"a\"\nhome = \"nohome\"\n"+
			"password = \"$2a$04$0o8bV2cC2cQm8sIh8m0Qb.4XbSyYWq1e7QJ9y1bQ8tW5nQx3yZJ9a\"\n"), 0o600))
	c, err := load(t, dir, base)
	must(t, err)
	b, err := c.Build(t.Context(), nil)
	must(t, err)
	defer b.Store.Close()
	if !hasWarning(b.Warnings, filepath.Join(dir, "nohome")) {
		t.Errorf("no warning of the missing home in %q", b.Warnings)
	}
}

func hasWarning(ws []string, sub string) bool {
	for _, w := range ws {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown key", base + "[passive]\nportz = \"1-2\"\n", "ferry.toml:5:1: passive.portz: unknown key"},
		{"unknown section", base + "[bogus]\nx = 1\n", "bogus"},
		{"bad duration", base + "[timeouts]\nidle = \"5 minutes\"\n", "timeouts.idle"},
		{"negative duration", base + "[timeouts]\nidle = \"-5m\"\n", "timeouts.idle: negative duration"},
		{"negative grace", base + "[timeouts]\nshutdown_grace = \"-1s\"\n", "timeouts.shutdown_grace: negative"},
		{"negative refresh", base + "[passive]\naddress_refresh = \"-1s\"\n", "passive.address_refresh: negative"},
		{"negative delay", base + "[limits]\nfailed_login_delay = \"-1s\"\n", "limits.failed_login_delay: negative"},
		{"swapped range", base + "[passive]\nports = \"50100-50000\"\n", "passive.ports: min 50100 > max 50000"},
		{"port 0", base + "[passive]\nports = \"0-10\"\n", "passive.ports: port 0"},
		{"port too big", base + "[passive]\nports = \"60000-70000\"\n", "passive.ports: port 70000 out of 0-65535"},
		{"not a range", base + "[passive]\nports = \"many\"\n", "passive.ports:"},
		{"range holds control port", base + "[[listen]]\naddress = \"127.0.0.1:40005\"\n[passive]\nports = \"40000-40010\"\n",
			"passive.ports: range 40000-40010 contains the control port 40005"},
		{"listen port too big", base + "[[listen]]\naddress = \"127.0.0.1:65536\"\n", "listen[0].address: port 65536"},
		{"listen host name", base + "[[listen]]\naddress = \"localhost:21\"\n", "listen[0].address"},
		{"listen no port", base + "[[listen]]\naddress = \"127.0.0.1\"\n", "listen[0].address"},
		{"implicit without tls", base + "[[listen]]\naddress = \"127.0.0.1:990\"\nimplicit_tls = true\n", "listen[0].implicit_tls: needs [tls]"},
		{"cert without key", base + "[tls]\ncert_file = \"cert.pem\"\n", "tls.key_file: required with tls.cert_file"},
		{"key without cert", base + "[tls]\nkey_file = \"key.pem\"\n", "tls.cert_file: required with tls.key_file"},
		{"unreadable cert", base + "[tls]\ncert_file = \"missing.pem\"\nkey_file = \"key.pem\"\n", "tls.cert_file: open"},
		{"not a cert", base + "[tls]\ncert_file = \"plain\"\nkey_file = \"key.pem\"\n", "tls.cert_file:"},
		{"login tls without tls", base + "[tls]\nrequire_for_login = true\n", "tls.require_for_login: needs"},
		{"data tls without tls", base + "[tls]\nrequire_for_data = true\n", "tls.require_for_data: needs"},
		{"tls 1.0", base + "[tls]\nmin_version = \"1.0\"\n", "tls.min_version: \"1.0\" is not 1.2 or 1.3"},
		{"unresolvable address", base + "[passive]\naddress = \"nowhere.invalid\"\n", "passive.address: resolving nowhere.invalid"},
		{"ipv6 address", base + "[passive]\naddress = \"2001:db8::1\"\n", "passive.address: 2001:db8::1 is not IPv4"},
		{"port map overflow", base + "[passive]\nports = \"50000-50100\"\nport_map_to = 65500\n", "passive.port_map_to: 65500 plus the 101 ports"},
		{"port map range", base + "[passive]\nport_map_to = 70000\n", "passive.port_map_to: port 70000"},
		{"bad network", base + "[[passive.networks]]\nclients = \"10.0.0.0\"\naddress = \"10.0.0.5\"\n", "passive.networks[0].clients"},
		{"v6 network address", base + "[[passive.networks]]\nclients = \"10.0.0.0/8\"\naddress = \"::1\"\n", "passive.networks[0].address"},
		{"max line", base + "[limits]\nmax_line = 10\n", "limits.max_line: 10 out of"},
		{"max depth", base + "[limits]\nmax_depth = 300\n", "limits.max_depth: 300 out of 1-200"},
		{"ban after", base + "[limits]\nban_after = -3\n", "limits.ban_after: -3"},
		{"ban for", base + "[limits]\nban_for = \"-1m\"\n", "limits.ban_for: negative"},
		{"session reuse", base + "[tls]\nsession_reuse = \"maybe\"\n", "tls.session_reuse: \"maybe\""},
		{"command rate", base + "[limits]\ncommand_rate = -1.0\n", "limits.command_rate: negative"},
		{"download rate", base + "[limits]\ndownload_rate = -1\n", "limits.download_rate: negative"},
		{"anonymous rate", base + "[anonymous]\nupload_rate = -1\n", "anonymous.upload_rate: negative"},
		{"max sessions", base + "[limits]\nmax_sessions = -2\n", "limits.max_sessions: -2"},
		{"users file missing", "[users]\nfile = \"nope.toml\"\n", "users.file: stat"},
		{"failure floor negative", base + "failure_floor = \"-1s\"\n", "users.failure_floor: negative"},
		{"failure floor too long", base + "failure_floor = \"11s\"\n", "users.failure_floor: 11s above 10s"},
		{"anonymous without root", "[anonymous]\nenabled = true\n", "anonymous.root: required"},
		{"anonymous root missing", "[anonymous]\nenabled = true\nroot = \"nope\"\n", "anonymous.root: stat"},
		{"anonymous root a file", "[anonymous]\nenabled = true\nroot = \"plain\"\n", "anonymous.root:"},
		{"anonymous bad perm", "[anonymous]\nenabled = true\nroot = \"pub\"\npermissions = [\"fly\"]\n", "anonymous.permissions: unknown permission \"fly\""},
		{"nobody", "[log]\nlevel = \"info\"\n", "users: nobody can log in"},
		{"log format", base + "[log]\nformat = \"xml\"\n", "log.format: \"xml\""},
		{"log level", base + "[log]\nlevel = \"loud\"\n", "log.level: \"loud\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture(t)
			c, err := load(t, dir, tc.body)
			if err == nil {
				err = c.Validate(t.Context())
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.lookup = fakeLookup
	c.Passive.Ports = "9-1"
	c.Timeouts.Idle = -1
	err := c.Validate(t.Context())
	for _, want := range []string{"passive.ports", "timeouts.idle", "users: nobody"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

func TestQuickUsers(t *testing.T) {
	dir := fixture(t)
	c := Default()
	c.Users.Quick = []QuickUser{{Name: "alice", Password: "pw", Home: dir}}
	if err := c.Validate(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.Users.Quick = []QuickUser{{Name: "alice", Password: "", Home: dir}}
	if err := c.Validate(t.Context()); err == nil || !strings.Contains(err.Error(), "NAME:PASSWORD") {
		t.Fatalf("empty password: %v", err)
	}
	c.Users.Quick = []QuickUser{{Name: "alice", Password: "pw", Home: filepath.Join(dir, "plain")}}
	if err := c.Validate(t.Context()); err == nil || !strings.Contains(err.Error(), "home") {
		t.Fatalf("file as home: %v", err)
	}
}

func TestParsePortRange(t *testing.T) {
	for in, want := range map[string]ftp.PortRange{
		"50000-50100": {Min: 50000, Max: 50100},
		" 1 - 1 ":     {Min: 1, Max: 1},
		"65535":       {Min: 65535, Max: 65535},
	} {
		got, err := ParsePortRange(in)
		if err != nil || got != want {
			t.Errorf("ParsePortRange(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// ban_after 0 turns bans off, as --ban-after 0 does; it must not fall
// back to the server's default of 10.
func TestBanAfterZeroIsOff(t *testing.T) {
	for _, tc := range []struct {
		after int
		want  server.BanPolicy
	}{
		{0, server.BanPolicy{After: -1}},
		{-1, server.BanPolicy{After: -1}},
		{5, server.BanPolicy{After: 5, Window: time.Minute, For: time.Hour}},
	} {
		got := banPolicy(Limits{BanAfter: tc.after, BanWindow: Duration(time.Minute), BanFor: Duration(time.Hour)})
		if got != tc.want {
			t.Errorf("ban_after %d: %+v, want %+v", tc.after, got, tc.want)
		}
	}
}

// users.failure_floor wraps the Store in an auth.FailureFloor; the
// default 0 leaves the Store as the server's Authenticator.
func TestFailureFloorKey(t *testing.T) {
	for _, tc := range []struct {
		body string
		want time.Duration
	}{
		{base, 0},
		{base + "failure_floor = \"0s\"\n", 0},
		{base + "failure_floor = \"250ms\"\n", 250 * time.Millisecond},
	} {
		c, err := load(t, fixture(t), tc.body)
		must(t, err)
		b, err := c.Build(t.Context(), nil)
		must(t, err)
		defer b.Store.Close()
		switch a := b.Server.Auth.(type) {
		case *auth.Store:
			if tc.want != 0 || a != b.Store {
				t.Errorf("%q: Auth is the Store, want a floor of %v", tc.body, tc.want)
			}
		case *auth.FailureFloor:
			if a.Min != tc.want || a.Auth != b.Store {
				t.Errorf("%q: floor %v around %T, want %v around the Store", tc.body, a.Min, a.Auth, tc.want)
			}
		default:
			t.Errorf("%q: Auth is a %T", tc.body, a)
		}
	}
}

// A users file whose hashes ask for more than the cost caps is refused
// at Build, with the file and the line of the password.
func TestUsersFileOverCostCap(t *testing.T) {
	dir := fixture(t)
	users := filepath.Join(dir, "users.toml")
	must(t, os.WriteFile(users, []byte("[[user]]\nname = \"m\"\nhome = \"pub\"\npassword = \"$argon2id$v=19$m=2097152,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g\"\n"), 0o600))
	c, err := load(t, dir, base)
	must(t, err)
	_, err = c.Build(t.Context(), nil)
	if want := "users.file: " + users + ":4:1: user[0]: "; err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "m=2097152 out of") {
		t.Errorf("Build: %v; want an error starting %q", err, want)
	}
}
