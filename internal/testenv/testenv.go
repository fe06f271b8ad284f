// Package testenv finds the external programs the tests talk to (real FTP
// clients and servers, firewall tools) and decides what happens when one
// is missing: in CI (CI=true) the test fails, since a skipped interop test
// proves nothing; elsewhere it skips with the install command to run.
package testenv

import (
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// InCI reports whether the tests run under CI, where every tool is required.
func InCI() bool { return os.Getenv("CI") == "true" }

// Tool returns the path of the program name, looking in PATH and in the
// sbin directories that a non-login root shell may lack. A missing tool
// fails the test in CI and skips it elsewhere.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	Missing(t, name+" not found (run scripts/install-test-deps.sh)")
	return ""
}

// Missing fails the test in CI and skips it elsewhere, with why.
func Missing(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatalf("required in CI: %s", why)
	}
	t.Skip(why)
}

// Root requires the tests to run as root (network namespaces, nftables):
// in CI that is a failure, elsewhere a skip.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root")
	}
}

// FreePortRange finds n consecutive TCP ports that 127.0.0.1 can bind now,
// for servers that must be told a passive range. It looks below the
// kernel's ephemeral range (32768 and up on Linux), where the tests' own
// outgoing connections and :0 listeners never land, at a random base so
// that test processes running side by side rarely pick the same ports.
// A port taken between this check and its use is a bounded risk: ferry's
// allocator skips ports the kernel refuses.
func FreePortRange(t testing.TB, n int) (lo, hi int) {
	t.Helper()
	const floor, ceiling = 20000, 32000
	for range 500 {
		base := floor + rand.IntN(ceiling-floor-n)
		var ls []net.Listener
		ok := true
		for p := base; p < base+n; p++ {
			l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			l.Close()
		}
		if ok {
			return base, base + n - 1
		}
	}
	t.Fatalf("no %d consecutive free ports found between %d and %d", n, floor, ceiling)
	return 0, 0
}
