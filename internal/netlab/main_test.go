package netlab_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/netlab"
	"github.com/ferry-ftp/ferry/internal/testenv"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper(os.Args[1:]))
	}
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// build holds the ferry binary, built once per test run for every
// scenario that needs it.
var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// ferryBinary builds cmd/ferry (once) and returns its path.
func ferryBinary(t *testing.T) string {
	t.Helper()
	goTool := testenv.Tool(t, "go")
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "ferry-netlab-")
		if build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "ferry")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, goTool, "build", "-o", build.path, "github.com/ferry-ftp/ferry/cmd/ferry").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build ./cmd/ferry: %w\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// hasCommand reports whether the ferry binary has the subcommand name;
// scenarios that need a command another part of ferry provides skip with
// a clear message until it exists.
func hasCommand(t *testing.T, name string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, ferryBinary(t), name, "--help").Run() == nil
}

// helperPath is the test binary itself, which runs runHelper when
// started with helperEnv set.
func helperPath(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fixture is what every scenario serves: one file of random bytes.
type fixture struct {
	root   string // the anonymous root
	name   string
	sha256 string
	size   int64
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	root := filepath.Join(t.TempDir(), "pub")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1<<20+123)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(root, "data.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return fixture{root: root, name: "data.bin", sha256: hex.EncodeToString(sum[:]), size: int64(len(data))}
}

// serverConfig is the part of ferry's configuration a scenario varies.
type serverConfig struct {
	advertise string      // passive.address; "" advertises the local address
	networks  [][2]string // passive.networks: clients prefix, address
	portMapTo int         // passive.port_map_to
	tls       *tlsFiles   // nil: no FTPS
}

// ferryServer is `ferry serve` running in the lab's server namespace.
type ferryServer struct {
	lab    *netlab.Lab
	fix    fixture
	config string // the configuration file's path
	proc   *netlab.Process
}

// startServer runs `ferry serve --config` on the server host with the
// anonymous root of fix and waits until it listens.
func startServer(t *testing.T, lab *netlab.Lab, fix fixture, sc serverConfig) *ferryServer {
	t.Helper()
	opts := lab.Options()
	var b strings.Builder
	fmt.Fprintf(&b, "[[listen]]\naddress = \":%d\"\n\n", opts.ControlPort)
	if sc.tls != nil {
		// Data protection is required: a transfer without PROT P fails.
		fmt.Fprintf(&b, "[tls]\ncert_file = %q\nkey_file = %q\nrequire_for_data = true\n\n", sc.tls.cert, sc.tls.key)
	}
	fmt.Fprintf(&b, "[passive]\nports = \"%d-%d\"\naddress = %q\nport_map_to = %d\n\n",
		opts.PassivePorts.Min, opts.PassivePorts.Max, sc.advertise, sc.portMapTo)
	for _, n := range sc.networks {
		fmt.Fprintf(&b, "[[passive.networks]]\nclients = %q\naddress = %q\n\n", n[0], n[1])
	}
	// A dropped active connection must fail within the scenario's time.
	b.WriteString("[timeouts]\ndata_connect = \"5s\"\n\n")
	b.WriteString("[limits]\nmax_per_ip = -1\nfailed_login_delay = \"10ms\"\n\n")
	fmt.Fprintf(&b, "[anonymous]\nenabled = true\nroot = %q\n\n", fix.root)
	b.WriteString("[log]\nlevel = \"debug\"\n")
	path := filepath.Join(t.TempDir(), "ferry.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	proc := lab.Start(t, netlab.Server, ferryBinary(t), "serve", "--config", path)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := proc.WaitOutput(ctx, "msg=listening"); err != nil {
		t.Fatalf("ferry serve: %v\nconfig:\n%s\noutput:\n%s", err, b.String(), proc.Output())
	}
	return &ferryServer{lab: lab, fix: fix, config: path, proc: proc}
}

// helper runs a helper command in h's namespace and decodes its result.
func helper(t *testing.T, lab *netlab.Lab, h netlab.Host, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := lab.Command(ctx, h, "env", append([]string{helperEnv + "=1", helperPath(t)}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper %v in %s: %v\n%s", args, h, err, stderr.String())
	}
	var res result
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("helper %v in %s: %v in %q\n%s", args, h, err, out, stderr.String())
	}
	return res
}

// get downloads the fixture from addr in h's namespace with ferry's
// client library, extra flags choosing mode, TLS and strictness.
func (s *ferryServer) get(t *testing.T, h netlab.Host, addr netip.Addr, flags ...string) result {
	t.Helper()
	ap := netip.AddrPortFrom(addr, s.lab.Options().ControlPort)
	res := helper(t, s.lab, h, append([]string{"get", "-addr", ap.String(), "-path", s.fix.name}, flags...)...)
	t.Logf("get from %s via %s %v: %+v", h, ap, flags, res)
	return res
}

// mustGet is get that requires the whole file, intact.
func (s *ferryServer) mustGet(t *testing.T, h netlab.Host, addr netip.Addr, flags ...string) result {
	t.Helper()
	res := s.get(t, h, addr, flags...)
	if res.Err != "" {
		t.Fatalf("get from %s to %s %v: %s", h, addr, flags, res.Err)
	}
	if res.SHA256 != s.fix.sha256 || res.Bytes != s.fix.size {
		t.Fatalf("get from %s to %s %v: %d bytes, sha256 %s; want %d bytes, %s", h, addr, flags, res.Bytes, res.SHA256, s.fix.size, s.fix.sha256)
	}
	return res
}

// mustFail is get that requires the transfer to fail with an error
// that contains why.
func (s *ferryServer) mustFail(t *testing.T, h netlab.Host, addr netip.Addr, why string, flags ...string) result {
	t.Helper()
	res := s.get(t, h, addr, flags...)
	if res.Err == "" {
		t.Fatalf("get from %s to %s %v succeeded (%+v); want a failure", h, addr, flags, res)
	}
	if !strings.Contains(res.Err, why) {
		t.Fatalf("get from %s to %s %v failed with %q; want %q", h, addr, flags, res.Err, why)
	}
	return res
}

// advertisedHost returns the address part of a 227 reply's address as
// recorded by the client, or fails.
func advertisedHost(t *testing.T, res result) netip.Addr {
	t.Helper()
	ap, err := netip.ParseAddrPort(res.Advertised)
	if err != nil {
		t.Fatalf("advertised %q: %v", res.Advertised, err)
	}
	return ap.Addr()
}

// advertisedPort returns the port of a 227 or 229 reply as recorded.
func advertisedPort(t *testing.T, res result) uint16 {
	t.Helper()
	s := res.Advertised
	if strings.HasPrefix(s, "|||") { // EPSV: |||port|
		p, err := strconv.ParseUint(strings.Trim(s, "|"), 10, 16)
		if err != nil {
			t.Fatalf("advertised %q: %v", s, err)
		}
		return uint16(p)
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		t.Fatalf("advertised %q: %v", s, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		t.Fatalf("advertised %q: %v", s, err)
	}
	return uint16(p)
}

// tlsFiles is a certificate for the server's addresses and its key.
type tlsFiles struct{ cert, key string }

// newTLSFiles writes a self-signed certificate valid for every address
// a client may dial the server at; the certificate is its own CA.
func newTLSFiles(t *testing.T) tlsFiles {
	t.Helper()
	c := testenv.SelfSigned(t, netlab.ServerPublicIPv4.String(), netlab.ServerIPv4.String(), netlab.ServerIPv6.String())
	cert, key := c.WriteFiles(t, t.TempDir())
	return tlsFiles{cert: cert, key: key}
}
