package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/internal/testenv"
)

func TestRootWarning(t *testing.T) {
	for _, tc := range []struct {
		euid  int
		runAs string
		warn  bool
	}{
		{0, "", true},
		{0, "nobody", false},
		{1000, "", false},
		{1000, "nobody", false},
	} {
		w := rootWarning(tc.euid, tc.runAs)
		if (w != "") != tc.warn {
			t.Errorf("rootWarning(%d, %q) = %q, want a warning: %v", tc.euid, tc.runAs, w, tc.warn)
		}
	}
	// The warning says what is wrong, why, and both ways out.
	w := rootWarning(0, "")
	for _, want := range []string{"root", "every capability", "run_as", "--run-as", "CAP_NET_BIND_SERVICE", "contrib/ferry.service"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning lacks %q: %s", want, w)
		}
	}
}

// Started as root without process.run_as, serve warns in its log at
// start and `serve --check` prints the same warning; with --run-as it
// does neither. (Serving with --run-as would switch this test process
// away from root, so that case is checked with --check only.)
func TestServeWarnsAsRootWithoutRunAs(t *testing.T) {
	testenv.Root(t)
	dir := t.TempDir()
	p := freePort(t)
	ports := fmt.Sprintf("%d-%d", p, p)
	want := rootWarning(0, "")

	code, out, errOut := runCLI(t, "", "serve", "--check", dir, "--listen", "127.0.0.1:0", "--passive-ports", ports)
	if code != 0 || !strings.Contains(out, "warning: "+want+"\n") {
		t.Errorf("--check as root: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "", "serve", "--check", dir, "--listen", "127.0.0.1:0", "--passive-ports", ports, "--run-as", "nobody")
	if code != 0 || strings.Contains(out, "running as root") {
		t.Errorf("--check with --run-as: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	cfgFile := filepath.Join(dir, "ferry.toml")
	writeFile(t, cfgFile, "[process]\nrun_as = \"nobody\"\n[anonymous]\nenabled = true\nroot = \".\"\n")
	code, out, errOut = runCLI(t, "", "serve", "--check", "--config", cfgFile, "--passive-ports", ports)
	if code != 0 || strings.Contains(out, "running as root") {
		t.Errorf("--check with process.run_as: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	srv := startServe(t, "serve", dir, "--listen", "127.0.0.1:0", "--passive-ports", ports)
	if code := srv.stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, srv.err.String())
	}
	if !strings.Contains(srv.err.String(), fmt.Sprintf("level=WARN msg=%q\n", want)) {
		t.Errorf("no warning logged at start:\n%s", srv.err.String())
	}
}
