package peertest

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// login speaks just enough FTP to prove the peer accepts its user.
func login(t *testing.T, p *Peer) {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if p.implicit {
		c = tls.Client(c, p.TLSConfig())
	}
	r := bufio.NewReader(c)
	expect := func(code string) {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading reply: %v", err)
			}
			if len(line) >= 4 && line[3] == ' ' {
				if !strings.HasPrefix(line, code) {
					t.Fatalf("got %q, want %s", line, code)
				}
				return
			}
		}
	}
	send := func(s string) {
		t.Helper()
		if _, err := c.Write([]byte(s + "\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	expect("220")
	if p.TLS && !p.implicit {
		send("AUTH TLS")
		expect("234")
		tc := tls.Client(c, p.TLSConfig())
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		c = tc
		r = bufio.NewReader(c)
	}
	send("USER " + p.User)
	expect("331")
	send("PASS " + p.Password)
	expect("230")
	send("QUIT")
	expect("221")
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
