package peertest

import (
	"slices"
	"strings"
	"testing"
)

func TestVsftpdConfig(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       VsftpdConfig
		want, not []string // lines the file must and must not hold
	}{
		{"plain", VsftpdConfig{Root: "/r"},
			[]string{"local_root=/r", "anonymous_enable=NO", "xferlog_enable=NO"},
			[]string{"ssl_enable=YES", "anon_root=", "idle_session_timeout="}},
		{"offered", VsftpdConfig{CertFile: "c", KeyFile: "k", AnonRoot: "/a", Verbose: true},
			[]string{"ssl_enable=YES", "rsa_cert_file=c", "rsa_private_key_file=k", "anonymous_enable=YES", "anon_root=/a", "allow_anon_ssl=YES", "force_local_logins_ssl=NO", "require_ssl_reuse=NO", "log_ftp_protocol=YES"},
			[]string{"implicit_ssl=YES"}},
		{"required", VsftpdConfig{CertFile: "c", KeyFile: "k", RequireTLS: true, ImplicitTLS: true},
			[]string{"force_local_logins_ssl=YES", "force_local_data_ssl=YES", "require_ssl_reuse=YES", "implicit_ssl=YES"},
			[]string{"allow_anon_ssl=YES"}},
	} {
		lines := strings.Split(tc.cfg.String(), "\n")
		for _, w := range tc.want {
			if !slices.Contains(lines, w) {
				t.Errorf("%s: no line %q in\n%s", tc.name, w, tc.cfg)
			}
		}
		for _, n := range tc.not {
			if slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, n) }) {
				t.Errorf("%s: a line %q in\n%s", tc.name, n, tc.cfg)
			}
		}
	}
}

func TestPureFTPdArgs(t *testing.T) {
	got := PureFTPdConfig{Port: 21, PassiveMin: 1000, PassiveMax: 1015, PureDB: "p.pdb", MaxClientsPerIP: 50,
		Verbose: true, NoChmod: true, TransferLog: "x.log", CertFile: "c", KeyFile: "k", RequireTLS: true}.Args()
	want := []string{"--bind", "127.0.0.1,21", "--passiveportrange", "1000:1015", "--login", "puredb:p.pdb",
		"--noanonymous", "--dontresolve", "--chrooteveryone", "--minuid", "1", "--maxclientsperip", "50",
		"--syslogfacility", "none", "--verboselog", "--ipv4only", "--customerproof", "--nochmod",
		"--altlog", "stats:x.log", "--tls", "2", "--certfile", "c,k"}
	if !slices.Equal(got, want) {
		t.Errorf("args\n%q\nwant\n%q", got, want)
	}
}
