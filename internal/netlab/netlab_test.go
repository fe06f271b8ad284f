package netlab_test

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/netlab"
	"github.com/ferry-ftp/ferry/internal/testenv"
)

// TestTopology proves the lab is the network the scenarios rely on:
// what each host can reach, what the routers drop, and that the lab is
// gone afterwards.
func TestTopology(t *testing.T) {
	var lab *netlab.Lab
	t.Run("lab", func(t *testing.T) {
		lab = netlab.Start(t, netlab.Options{})
		// One listener on the server, reached from every side.
		startListener(t, lab, netlab.Server, "[::]:2121")

		for _, c := range []struct {
			name string
			from netlab.Host
			to   netip.Addr
			port uint16
			ok   bool // connects and reads the greeting; else dropped (timeout) or refused
		}{
			{"inside to private address", netlab.Inside, netlab.ServerIPv4, 2121, true},
			{"stranger to private address", netlab.Stranger, netlab.ServerIPv4, 2121, false},
			{"stranger to public, unforwarded port", netlab.Stranger, netlab.ServerPublicIPv4, 2121, false},
			{"client over IPv6, unforwarded port", netlab.Client, netlab.ServerIPv6, 2121, false},
			{"inside over IPv6", netlab.Inside, netlab.ServerIPv6, 2121, true},
		} {
			res := helper(t, lab, c.from, "probe", "-addr", netip.AddrPortFrom(c.to, c.port).String(), "-timeout", "2s")
			got := res.Connected && res.Bytes == int64(len("hello\n"))
			if got != c.ok {
				t.Errorf("%s: %+v; want reachable=%v", c.name, res, c.ok)
			}
		}

		// The client router drops what the client did not ask for.
		startListener(t, lab, netlab.Client, "[::]:2122")
		res := helper(t, lab, netlab.Stranger, "probe", "-addr", netip.AddrPortFrom(netlab.ClientIPv6, 2122).String(), "-timeout", "2s")
		if res.Connected || !res.Timeout {
			t.Errorf("stranger to the client over IPv6: %+v; want dropped (timeout)", res)
		}
	})
	if lab == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "ferrylab-"+lab.ID+"-") {
		t.Errorf("lab %s left namespaces behind:\n%s", lab.ID, out)
	}
}

// startListener runs the helper's greeting listener on addr in h.
func startListener(t *testing.T, lab *netlab.Lab, h netlab.Host, addr string) *netlab.Process {
	t.Helper()
	p := lab.Start(t, h, "env", helperEnv+"=1", helperPath(t), "listen", "-addr", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.WaitOutput(ctx, "listening"); err != nil {
		t.Fatalf("listener in %s: %v", h, err)
	}
	return p
}

// TestScriptArguments checks, without root, that the lab script refuses
// IDs that are not plain names (they end up in namespace names and in
// the pattern "down" deletes) and that removing a lab that does not
// exist touches nothing.
func TestScriptArguments(t *testing.T) {
	bash := testenv.Tool(t, "bash")
	for _, args := range [][]string{
		{"up"}, {"up", ""}, {"up", "ABC"}, {"up", "a b"}, {"up", "../x"}, {"up", "123456789"},
		{"down", "*"}, {"down", "a-b"}, {"frobnicate", "ab"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := exec.CommandContext(ctx, bash, append([]string{"../../scripts/netlab.sh"}, args...)...).Run()
		cancel()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("netlab.sh %q: %v; want exit status 2", args, err)
		}
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bash, "../../scripts/netlab.sh", "down", "zz9nolab").CombinedOutput(); err != nil {
		t.Errorf("netlab.sh down of a lab that does not exist: %v\n%s", err, out)
	}
}
