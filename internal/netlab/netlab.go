// Package netlab builds the firewall and NAT lab the tests of passive and
// active mode run in: network namespaces on this machine, joined by veth
// pairs, with nftables doing NAT and stateful filtering. Loopback cannot
// show that passive mode survives NAT or that active mode fails behind it;
// the lab can.
//
// The topology lives in one place, scripts/netlab.sh, which a person can
// also run by hand; this package runs it with a unique ID per lab, removes
// the lab in t.Cleanup (also when a test fails), and starts programs in
// the lab's namespaces with `ip netns exec`. Go cannot move a goroutine's
// sockets between namespaces safely, so everything that talks on the lab's
// network runs as a child process inside its namespace.
//
//	client 192.168.1.2 ── crtr ──┐ wan 198.51.100.0/24    ┌── server 10.0.0.10
//	     (masquerade, drops      ├── stranger .3          │
//	      unsolicited inbound)   └── srtr .2 (DNAT) ── lan ┴── inside 10.0.0.20
//
// IPv6 is routed without NAT through the same stateful rules.
package netlab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/testenv"
)

// Host is a role in the lab; each has its own network namespace.
type Host string

// The lab's hosts.
const (
	Client       Host = "client"   // behind ClientRouter's NAT and stateful firewall
	ClientRouter Host = "crtr"     // masquerades Client, drops unsolicited inbound connections
	Server       Host = "server"   // private address; reached through ServerRouter's DNAT
	ServerRouter Host = "srtr"     // forwards the control port and the passive range
	Inside       Host = "inside"   // a second client on the server's private network
	Stranger     Host = "stranger" // a host on the public side, no NAT, no firewall
	WAN          Host = "wan"      // the public network's switch
)

// Addresses in the lab. They exist only inside its namespaces.
var (
	ClientIPv4       = netip.MustParseAddr("192.168.1.2")
	ClientPublicIPv4 = netip.MustParseAddr("198.51.100.1") // ClientRouter's public address, what servers see
	ServerPublicIPv4 = netip.MustParseAddr("198.51.100.2") // ServerRouter's public address, forwarded to the server
	ServerIPv4       = netip.MustParseAddr("10.0.0.10")
	InsideIPv4       = netip.MustParseAddr("10.0.0.20")
	StrangerIPv4     = netip.MustParseAddr("198.51.100.3")
	ServerNetwork    = netip.MustParsePrefix("10.0.0.0/24") // Server's and Inside's network

	ClientIPv6   = netip.MustParseAddr("2001:db8:1::2")
	ServerIPv6   = netip.MustParseAddr("2001:db8:2::10") // routed and filtered by ServerRouter, not translated
	InsideIPv6   = netip.MustParseAddr("2001:db8:2::20")
	StrangerIPv6 = netip.MustParseAddr("2001:db8:100::3")
)

// DefaultControlPort is the control port ServerRouter forwards unless
// Options say otherwise: inside a fresh namespace it is always free.
const DefaultControlPort = 21

// defaultPassivePorts is the passive range ServerRouter forwards unless
// Options say otherwise: the default of scripts/netlab.sh and of ferry
// serve (passive.ports), so that a server started with its defaults
// works in the lab. netlab does not import the server to ask it: the
// lab runs the ferry binary and only speaks of ports.
var defaultPassivePorts = ftp.PortRange{Min: 50000, Max: 50100}

// Options shape ServerRouter's port forwarding.
type Options struct {
	// ControlPort is forwarded from ServerPublicIPv4; 0: DefaultControlPort.
	ControlPort uint16
	// PassivePorts is the server's private passive range; empty:
	// 50000-50100 (defaultPassivePorts).
	PassivePorts ftp.PortRange
	// PublicPassivePorts is the public range forwarded one to one onto
	// PassivePorts; empty: the same ports.
	PublicPassivePorts ftp.PortRange
}

// Lab is a running lab. Its methods may be called from several goroutines.
type Lab struct {
	// ID is unique per lab: namespaces are named "ferrylab-ID-HOST".
	ID   string
	opts Options
	ip   string // paths of the ip and nft programs
	nft  string
}

// setupTimeout bounds building or removing a lab.
const setupTimeout = 60 * time.Second

// Start builds a lab for t and removes it when t ends. It needs root and
// the ip and nft programs: without them the test is skipped, or fails
// in CI (CI=true), with a message saying why.
func Start(t testing.TB, opts Options) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		// testenv.Missing: a skip here, a failure in CI.
		testenv.Missing(t, "the firewall and NAT lab needs root to create network namespaces and "+
			"nftables rules; run as root, e.g. sudo -E go test ./internal/netlab/")
	}
	ipPath := testenv.Tool(t, "ip")
	nftPath := testenv.Tool(t, "nft")
	bash := testenv.Tool(t, "bash")
	script, err := scriptPath()
	if err != nil {
		t.Fatal(err)
	}
	if opts.ControlPort == 0 {
		opts.ControlPort = DefaultControlPort
	}
	if opts.PassivePorts.Size() == 0 {
		opts.PassivePorts = defaultPassivePorts
	}
	if opts.PublicPassivePorts.Size() == 0 {
		opts.PublicPassivePorts = opts.PassivePorts
	}
	if opts.PublicPassivePorts.Size() != opts.PassivePorts.Size() {
		t.Fatalf("netlab: public range %v and private range %v differ in size", opts.PublicPassivePorts, opts.PassivePorts)
	}
	l := &Lab{opts: opts, ip: ipPath, nft: nftPath}
	lab := func(verb string, env ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, bash, script, verb, l.ID)
		cmd.Env = append(os.Environ(), env...)
		return cmd.CombinedOutput()
	}
	for attempt := 0; ; attempt++ {
		l.ID = newID()
		out, err := lab("up",
			fmt.Sprintf("LAB_CONTROL_PORT=%d", opts.ControlPort),
			"LAB_PASSIVE_PORTS="+rangeString(opts.PassivePorts),
			"LAB_PUBLIC_PASSIVE_PORTS="+rangeString(opts.PublicPassivePorts))
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == exitIDTaken {
			// Another lab has this ID and the script touched nothing:
			// never remove what is not ours.
			if attempt < 3 {
				continue
			}
			t.Fatalf("netlab: no free lab ID after %d attempts: %s", attempt+1, out)
		}
		// From here the namespaces named by l.ID are ours, however far
		// "up" got.
		t.Cleanup(func() {
			if out, err := lab("down"); err != nil {
				t.Errorf("netlab: removing lab %s: %v\n%s", l.ID, err, out)
			}
		})
		if err != nil {
			t.Fatalf("netlab: building lab %s: %v\n%s", l.ID, err, out)
		}
		return l
	}
}

// exitIDTaken is the script's exit status when a namespace of the lab
// it was asked to build already exists.
const exitIDTaken = 3

// Options returns the port forwarding the lab was built with, defaults
// filled in.
func (l *Lab) Options() Options { return l.opts }

// Namespace returns the name of h's network namespace.
func (l *Lab) Namespace(h Host) string { return "ferrylab-" + l.ID + "-" + string(h) }

// Command returns a command that runs name with args inside h's
// namespace; ctx bounds it.
func (l *Lab) Command(ctx context.Context, h Host, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, l.ip, append([]string{"netns", "exec", l.Namespace(h), name}, args...)...)
	// ip netns exec execs the program itself, so the signal reaches it.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs name with args inside h's namespace, within timeout, and
// returns its standard output; the error includes standard error.
func (l *Lab) Run(ctx context.Context, h Host, timeout time.Duration, stdin []byte, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := l.Command(ctx, h, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s in %s: %w: %s", name, h, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Nft loads an nftables ruleset (nft -f syntax) into h's namespace. The
// namespace's ruleset goes away with the lab.
func (l *Lab) Nft(ctx context.Context, h Host, rules string) error {
	_, err := l.Run(ctx, h, 30*time.Second, []byte(rules), l.nft, "-f", "-")
	return err
}

// Process is a long-running program in a lab namespace, started by
// Lab.Start and stopped when the test ends.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // the exit status; read after done

	mu     sync.Mutex
	output bytes.Buffer // standard output and standard error
	grew   chan struct{}
}

// Start runs name with args in h's namespace until the test ends (then
// SIGTERM, and SIGKILL after a few seconds) or it exits. Its output is
// logged to t when the test has failed.
func (l *Lab) Start(t testing.TB, h Host, name string, args ...string) *Process {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Process{cmd: l.Command(ctx, h, name, args...), done: make(chan struct{}), grew: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = (*processWriter)(p), (*processWriter)(p)
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("netlab: starting %s in %s: %v", name, h, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
		if t.Failed() {
			t.Logf("%s in %s: %v; output:\n%s", filepath.Base(name), h, p.err, p.Output())
		}
	})
	return p
}

// processWriter collects a Process's output and wakes WaitOutput.
type processWriter Process

func (w *processWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.output.Write(b)
	close(w.grew)
	w.grew = make(chan struct{})
	return len(b), nil
}

// Output returns what the process has written so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// WaitOutput waits until the process's output contains s: a readiness
// signal such as a server's "listening" log line. It fails when the
// process exits first or ctx ends.
func (p *Process) WaitOutput(ctx context.Context, s string) error {
	for {
		p.mu.Lock()
		found, grew := strings.Contains(p.output.String(), s), p.grew
		p.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-grew:
		case <-p.done:
			if strings.Contains(p.Output(), s) {
				return nil
			}
			return fmt.Errorf("exited (%v) before writing %q", p.err, s)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q: %w", s, context.Cause(ctx))
		}
	}
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

func newID() string {
	var b [3]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func rangeString(r ftp.PortRange) string { return fmt.Sprintf("%d-%d", r.Min, r.Max) }

// scriptPath finds scripts/netlab.sh in the source tree this package was
// built from: the tests run in the module, and the script is its source
// of truth for the topology.
func scriptPath() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("netlab: cannot locate the package source")
	}
	p := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "netlab.sh")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("netlab: lab script: %w", err)
	}
	return p, nil
}
