package config

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/ftp"
)

func TestAdvertiseWarnings(t *testing.T) {
	ap, ip := netip.MustParseAddrPort, netip.MustParseAddr
	good := ftp.PortRange{Min: 50000, Max: 50099}
	tests := []struct {
		name   string
		listen netip.AddrPort
		adv    netip.Addr
		r      ftp.PortRange
		want   []string // one substring per expected warning, in order
	}{
		{"public setup", ap("0.0.0.0:21"), ip("203.0.113.5"), good, nil},
		{"lan only", ap("192.168.1.2:21"), ip("192.168.1.2"), good, nil},
		{"not fixed", ap("0.0.0.0:21"), netip.Addr{}, good, nil},
		{"private on unspecified", ap("0.0.0.0:21"), ip("192.168.1.2"), good, []string{"is private"}},
		{"private on ::", ap("[::]:21"), ip("10.0.0.1"), good, []string{"is private"}},
		{"loopback on public", ap("203.0.113.5:21"), ip("127.0.0.1"), good, []string{"is private"}},
		{"cgnat on public", ap("203.0.113.5:21"), ip("100.64.1.1"), good, []string{"is private"}},
		{"public on loopback", ap("127.0.0.1:2121"), ip("203.0.113.5"), good, []string{"loopback"}},
		{"ipv6 advertised", ap("[::]:21"), ip("2001:db8::1"), good, []string{"IPv6"}},
		{"unspecified advertised", ap("0.0.0.0:21"), ip("0.0.0.0"), good, []string{"not a unicast"}},
		{"wide range", ap("0.0.0.0:21"), netip.Addr{}, ftp.PortRange{Min: 40000, Max: 41000}, []string{"1001 ports"}},
		{"1000 is fine", ap("0.0.0.0:21"), netip.Addr{}, ftp.PortRange{Min: 40000, Max: 40999}, nil},
		{"low range", ap("0.0.0.0:2121"), netip.Addr{}, ftp.PortRange{Min: 1000, Max: 1100}, []string{"below 1024"}},
		{"control in range", ap("0.0.0.0:50050"), netip.Addr{}, good, []string{"control port 50050"}},
		{"all at once", ap("[::]:1500"), ip("192.168.0.1"), ftp.PortRange{Min: 1, Max: 5000},
			[]string{"is private", "5000 ports", "below 1024", "control port 1500"}},
	}
	for _, tt := range tests {
		got := advertiseWarnings(tt.listen, tt.adv, tt.r)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %d warnings, want %d: %q", tt.name, len(got), len(tt.want), got)
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: warning %d = %q, want it to mention %q", tt.name, i, got[i], w)
			}
		}
	}
}
