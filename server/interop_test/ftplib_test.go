package interop_test

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
)

// TestFtplib runs testdata/ftplib_check.py: every command ftplib can send
// (through its API or sendcmd), passive and active, ABOR during a RETR,
// EPSV ALL, and FTP_TLS with PROT P. The script checks each answer and
// what reached the disk; this test checks that every expected check ran
// and passed, so a script that stops early cannot pass.
func TestFtplib(t *testing.T) {
	python := testenv.Tool(t, "python3")
	script, err := filepath.Abs("testdata/ftplib_check.py")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		suite  string
		tls    bool
		checks []string
	}{
		{"plain", false, []string{"pwd_cwd_mkd_rmd", "stor_retr_binary", "listings", "size_mdtm",
			"rest_retr", "appe", "rest_stor", "stou", "rename_delete", "type_a_download", "type_a_upload",
			"feat_opts_help_syst_stat_noop", "rfc959_parameters_and_aliases", "rfc3659_and_site", "rein_logs_out", "abor_during_retr", "abor_behind_queued_pwd", "active_mode", "quit_",
			"anonymous_read_only", "bad_login"}},
		{"epsvall", false, []string{"epsv_all"}},
		// ftplib's FTP_TLS starts the data TLS handshake only after the
		// 150 reply (see TestTLSDataHandshakeAfter150).
		{"tls", true, []string{"prot_p_transfers", "prot_p_active", "prot_c_transfers", "quit_tls"}},
	} {
		t.Run(tc.suite, func(t *testing.T) {
			e := startServer(t, options{tls: tc.tls})
			res := e.run("", "", python, script, e.host, strconv.Itoa(e.port), ftptest.User, ftptest.Password, e.root, tc.suite)
			lines := strings.Split(strings.TrimSpace(res.out), "\n")
			got := map[string]string{}
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
				t.Fatalf("no JSON summary (exit %d): %v; output:\n%s", res.code, err, res.out)
			}
			for _, c := range tc.checks {
				if got[c] != "ok" {
					t.Errorf("check %s: %q", c, got[c])
				}
			}
			t.Logf("ftplib_check.py %s:\n%s", tc.suite, res.out)
			if res.code != 0 || t.Failed() {
				t.Fatalf("ftplib_check.py %s exited %d", tc.suite, res.code)
			}
		})
	}
}
