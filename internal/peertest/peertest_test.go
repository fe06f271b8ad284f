package peertest

import (
	"testing"

	"github.com/ferry-ftp/ferry/internal/ftptest"
)

// login proves the peer accepts its user, over TLS if it requires it.
func login(t *testing.T, p *Peer) {
	t.Helper()
	var c *ftptest.Conn
	if p.implicit {
		c = ftptest.DialTLS(t, p.Addr, p.TLSConfig())
	} else {
		c = ftptest.Dial(t, p.Addr)
		if p.TLS {
			c.AuthTLS(p.TLSConfig())
		}
	}
	c.Login(p.User, p.Password)
	c.Script([]ftptest.Step{{Send: "QUIT", Want: "221"}})
}

func TestPeers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(testing.TB, Options) *Peer
		opts  Options
	}{
		{"vsftpd", Vsftpd, Options{}},
		{"vsftpd-tls", Vsftpd, Options{TLS: true}},
		{"vsftpd-implicit", Vsftpd, Options{ImplicitTLS: true}},
		{"pure-ftpd", PureFTPd, Options{}},
		{"pure-ftpd-tls", PureFTPd, Options{TLS: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			login(t, tc.start(t, tc.opts))
		})
	}
}

func TestFreePortRange(t *testing.T) {
	lo, hi := FreePortRange(t, 8)
	if hi-lo != 7 || lo <= 0 || hi > 65535 {
		t.Fatalf("range %d-%d", lo, hi)
	}
}
