package doctor

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/internal/peertest"
)

// The doctor against third-party servers: every mode works on loopback,
// and with TLS the data connections resume the control session as
// vsftpd's require_ssl_reuse demands.
func TestPeers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(testing.TB, peertest.Options) *peertest.Peer
		tls   bool
	}{
		{"vsftpd", peertest.Vsftpd, false},
		{"vsftpd-tls", peertest.Vsftpd, true},
		{"pure-ftpd", peertest.PureFTPd, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.start(t, peertest.Options{TLS: tc.tls})
			p.WriteFile(t, "pub/one.txt", []byte("1"))
			ap := netip.MustParseAddrPort(p.Addr)
			opts := Options{Host: ap.Addr().String(), Port: int(ap.Port()), User: p.User, Password: p.Password, Dir: "pub"}
			if tc.tls {
				opts.TLS = p.TLSConfig()
			}
			rep := diagnose(t, opts)
			want := []string{"EPSV", "PASV", "EPRT", "PORT"}
			if !slices.Equal(rep.Verdict.Working, want) {
				t.Errorf("working %v, want %v", rep.Verdict.Working, want)
			}
			for _, m := range want {
				if c := check(t, rep, m); c.Data.Entries != 1 {
					t.Errorf("%s listed %d entries, want 1", m, c.Data.Entries)
				}
			}
			if c := check(t, rep, "tls"); tc.tls && (!c.OK || !strings.Contains(c.Detail, "TLS 1.")) {
				t.Errorf("tls check %+v", c)
			}
		})
	}
}
