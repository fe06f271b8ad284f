package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// doctorJSON is the report as a consumer of --json reads it, with only
// the field names the format promises.
type doctorJSON struct {
	Checks []struct {
		Name       string `json:"name"`
		OK         bool   `json:"ok"`
		DurationMS *int64 `json:"duration_ms"`
		Detail     string `json:"detail"`
		Cause      string `json:"cause"`
		Hint       string `json:"hint"`
	} `json:"checks"`
	Verdict struct {
		OK       bool     `json:"ok"`
		Working  []string `json:"working"`
		Use      string   `json:"use"`
		Summary  string   `json:"summary"`
		Channels []struct {
			Side, For, Rule string
		} `json:"channels"`
	} `json:"verdict"`
}

func parseDoctorJSON(t *testing.T, out string) doctorJSON {
	t.Helper()
	var rep doctorJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	// Every check carries every promised field, even when empty.
	var raw struct{ Checks []map[string]any }
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	for _, c := range raw.Checks {
		for _, f := range []string{"name", "ok", "duration_ms", "detail", "cause", "hint"} {
			if _, ok := c[f]; !ok {
				t.Errorf("check %v has no %q field", c["name"], f)
			}
		}
	}
	return rep
}

func checkNames(rep doctorJSON) []string {
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name)
	}
	return names
}

var allChecks = []string{"resolve", "control", "tls", "login", "feat", "EPSV", "PASV", "EPRT", "PORT"}

func TestDoctorText(t *testing.T) {
	s := startFTP(t, false)
	if err := os.Mkdir(filepath.Join(s.root, "pub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(s.root, "pub", "hello.txt"), "hi")
	code, out, errOut := ferry(t, "doctor", s.url("pub"))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, m := range []string{"EPSV", "PASV", "EPRT", "PORT"} {
		if !strings.Contains(out, fmt.Sprintf("ok    %-7s", m)) || !strings.Contains(out, "listed 1 entries") {
			t.Errorf("%s not reported working:\n%s", m, out)
		}
	}
	for _, want := range []string{"logged in as alice", "verdict: All data modes tried work", "client: allow outbound from local ports > 1023 to 127.0.0.1 port"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDoctorJSON(t *testing.T) {
	s := startFTP(t, true)
	code, out, errOut := ferry(t, "doctor", "--json", "--tls", "--ca-file", s.caFile, s.url(""))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	rep := parseDoctorJSON(t, out)
	if got := checkNames(rep); !slices.Equal(got, allChecks) {
		t.Errorf("checks %v, want %v", got, allChecks)
	}
	for _, c := range rep.Checks {
		if !c.OK || c.DurationMS == nil || c.Detail == "" {
			t.Errorf("check %+v", c)
		}
		if c.Name == "tls" && !strings.Contains(c.Detail, "AUTH TLS: TLS 1.3") {
			t.Errorf("tls detail %q", c.Detail)
		}
	}
	if !rep.Verdict.OK || rep.Verdict.Use != "passive" || !slices.Equal(rep.Verdict.Working, []string{"EPSV", "PASV", "EPRT", "PORT"}) {
		t.Errorf("verdict %+v", rep.Verdict)
	}
	if len(rep.Verdict.Channels) == 0 || rep.Verdict.Channels[0].Side != "client" {
		t.Errorf("channels %+v", rep.Verdict.Channels)
	}
}

func TestDoctorImplicitTLS(t *testing.T) {
	s := startFTP(t, true)
	url := fmt.Sprintf("ftps://%s:%s@%s/", ftpUser, ftpPass, s.implicit)
	code, out, errOut := ferry(t, "doctor", "--json", "--ca-file", s.caFile, url)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	rep := parseDoctorJSON(t, out)
	if c := rep.Checks[slices.Index(checkNames(rep), "tls")]; !c.OK || !strings.Contains(c.Detail, "implicit TLS") {
		t.Errorf("tls check %+v", c)
	}
}

// Nothing listens: every check still reports, and the exit code says
// the server could not be reached.
func TestDoctorUnreachable(t *testing.T) {
	url := fmt.Sprintf("ftp://127.0.0.1:%d/", freePort(t))
	code, out, errOut := ferry(t, "doctor", "--json", url)
	if code != exitConnection {
		t.Errorf("exit %d, want %d\n%s", code, exitConnection, errOut)
	}
	rep := parseDoctorJSON(t, out)
	if got := checkNames(rep); !slices.Equal(got, allChecks) {
		t.Errorf("checks %v, want %v", got, allChecks)
	}
	c := rep.Checks[1]
	if c.OK || !strings.Contains(c.Cause, "nothing accepts connections") || c.Hint == "" {
		t.Errorf("control check %+v", c)
	}
	if rep.Verdict.OK {
		t.Errorf("verdict OK with nothing listening")
	}
	if !strings.Contains(errOut, "no data mode works") {
		t.Errorf("stderr %q", errOut)
	}
}

// --debug labels each session's dialogue and never shows the password
// (ferry fails the test if it does).
func TestDoctorDebug(t *testing.T) {
	s := startFTP(t, false)
	code, _, errOut := ferry(t, "doctor", "--debug", s.url(""))
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"[control] ---> PASS XXXX", "[EPSV] ---> EPSV", "[PASV] ---> PASV", "[EPRT] ---> EPRT |1|127.0.0.1|", "[PORT] ---> PORT 127,0,0,1,"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("debug output lacks %q", want)
		}
	}
}

func TestDoctorUsage(t *testing.T) {
	for _, args := range [][]string{
		{"doctor", "http://example.com/"},
		{"doctor", "ftp://127.0.0.1:1/", "--insecure"},
	} {
		if code, _, _ := ferry(t, args...); code != exitUsage {
			t.Errorf("ferry %v: exit %d, want %d", args, code, exitUsage)
		}
	}
}
