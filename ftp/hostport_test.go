package ftp

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

var hostPortTests = []struct {
	in   string
	want string // netip.AddrPort text; "" for an error
}{
	{"127,0,0,1,4,1", "127.0.0.1:1025"},
	{"192,168,1,20,0,21", "192.168.1.20:21"},
	{" 10,0,0,1,255,255 ", "10.0.0.1:65535"},
	{"10, 0, 0, 1, 0, 0", "10.0.0.1:0"},
	{"010,000,000,001,000,080", "10.0.0.1:80"},
	{"256,0,0,1,0,21", ""},
	{"1,2,3,4,5", ""},
	{"1,2,3,4,5,6,7", ""},
	{"1,2,3,4,5,", ""},
	{"1,2,3,4,,6", ""},
	{"-1,2,3,4,5,6", ""},
	{"+1,2,3,4,5,6", ""},
	{"0x1,2,3,4,5,6", ""},
	{"1,2,3,4,5,0006", ""},
	{"", ""},
}

func TestParseHostPort(t *testing.T) {
	for _, tt := range hostPortTests {
		got, err := ParseHostPort(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrBadHostPort) {
				t.Errorf("ParseHostPort(%q) = %v, %v; want ErrBadHostPort", tt.in, got, err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseHostPort(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestHostPortRoundTrip(t *testing.T) {
	addrs := []string{"0.0.0.0", "127.0.0.1", "255.255.255.255", "10.1.2.3", "::ffff:192.0.2.1"}
	ports := []uint16{0, 1, 21, 255, 256, 1025, 32768, 65534, 65535}
	for _, a := range addrs {
		for _, p := range ports {
			ap := netip.AddrPortFrom(netip.MustParseAddr(a), p)
			s, err := FormatHostPort(ap)
			if err != nil {
				t.Fatalf("FormatHostPort(%v): %v", ap, err)
			}
			got, err := ParseHostPort(s)
			want := netip.AddrPortFrom(ap.Addr().Unmap(), p)
			if err != nil || got != want {
				t.Errorf("ParseHostPort(FormatHostPort(%v) = %q) = %v, %v", ap, s, got, err)
			}
		}
	}
	if s, err := FormatHostPort(netip.MustParseAddrPort("[2001:db8::1]:21")); !errors.Is(err, ErrBadHostPort) {
		t.Errorf("FormatHostPort(IPv6) = %q, %v; want ErrBadHostPort", s, err)
	}
}

var pasvTests = []struct {
	msg  string
	want string
}{
	{"Entering Passive Mode (192,168,1,2,19,137).", "192.168.1.2:5001"},
	{"Entering Passive Mode (192,168,1,2,19,137)", "192.168.1.2:5001"},
	{"Entering Passive Mode 192,168,1,2,19,137", "192.168.1.2:5001"},
	{"Entering passive mode =127,0,0,1,200,10", "127.0.0.1:51210"},
	{"=127,0,0,1,200,10", "127.0.0.1:51210"},
	{"227 Entering Passive Mode (127,0,0,1,4,1)", "127.0.0.1:1025"},
	{"Passive mode OK, port 4 (127,0,0,1,4,1) for 20 seconds", "127.0.0.1:1025"},
	{"Entering Passive Mode (10, 0, 0, 1, 4, 1)", "10.0.0.1:1025"},
	{"Entering Passive Mode (300,0,0,1,4,1) (10,0,0,2,4,2)", "10.0.0.2:1026"},
	{"Entering Passive Mode (1,2,3,4,5,6,7)", ""},
	{"Entering Passive Mode (1,2,3,4,5,6,)", "1.2.3.4:1286"},
	{"Entering Passive Mode", ""},
	{"Entering Passive Mode (1,2,3,4,5)", ""},
	{"Entering Extended Passive Mode (|||5001|)", ""},
	{"(192,168,1,2,19,1370)", ""},
	{"", ""},
}

func TestParsePASVReply(t *testing.T) {
	for _, tt := range pasvTests {
		got, err := ParsePASVReply(tt.msg)
		if tt.want == "" {
			if !errors.Is(err, ErrBadHostPort) {
				t.Errorf("ParsePASVReply(%q) = %v, %v; want ErrBadHostPort", tt.msg, got, err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParsePASVReply(%q) = %v, %v; want %s", tt.msg, got, err, tt.want)
		}
	}
}

var eprtTests = []struct {
	arg  string
	want string
	err  error
}{
	{"|1|132.235.1.2|6275|", "132.235.1.2:6275", nil},
	{"|2|1080::8:800:200C:417A|5282|", "[1080::8:800:200c:417a]:5282", nil},
	{"!1!10.0.0.1!21!", "10.0.0.1:21", nil},
	{"~2~::1~65535~", "[::1]:65535", nil},
	{"|1|10.0.0.1|0|", "", ErrBadHostPort},
	{"|1|10.0.0.1|65536|", "", ErrBadHostPort},
	{"|1|10.0.0.1|+21|", "", ErrBadHostPort},
	{"|1|10.0.0.1|21", "", ErrBadHostPort},
	{"1|10.0.0.1|21|", "", ErrBadHostPort},
	{"|1|10.0.0.1|21||", "", ErrBadHostPort},
	{"|1|::1|21|", "", ErrBadHostPort},
	{"|2|10.0.0.1|21|", "", ErrBadHostPort},
	{"|2|::ffff:10.0.0.1|21|", "", ErrBadHostPort},
	{"|2|fe80::1%eth0|21|", "", ErrBadHostPort},
	{"|1|010.0.0.1|21|", "", ErrBadHostPort},
	{"|1|host.example|21|", "", ErrBadHostPort},
	{" |1|10.0.0.1|21|", "", ErrBadHostPort},
	{"|3|10.0.0.1|21|", "", ErrBadProtocol},
	{"|3|some-future-address|21|", "", ErrBadProtocol},
	{"|0|10.0.0.1|21|", "", ErrBadProtocol},
	{"||10.0.0.1|21|", "", ErrBadHostPort},
	{"", "", ErrBadHostPort},
}

// A hostile server's 227 text of digits and blanks must not cost time
// quadratic in its length; the answer is what matters here, and a
// quadratic scan of 1 MiB would take minutes and hit the test timeout.
func TestParsePASVReplyLong(t *testing.T) {
	msg := strings.Repeat("1 ", 1<<19) + "(10,0,0,1,4,1)"
	got, err := ParsePASVReply(msg)
	if err != nil || got.String() != "10.0.0.1:1025" {
		t.Fatalf("ParsePASVReply(long) = %v, %v", got, err)
	}
}

func TestParseEPRT(t *testing.T) {
	for _, tt := range eprtTests {
		got, err := ParseEPRT(tt.arg)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseEPRT(%q) = %v, %v; want %v", tt.arg, got, err, tt.err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseEPRT(%q) = %v, %v; want %s", tt.arg, got, err, tt.want)
		}
		// FormatEPRT must give back an argument that parses to the same.
		again, err := ParseEPRT(FormatEPRT(got))
		if err != nil || again != got {
			t.Errorf("ParseEPRT(FormatEPRT(%v)) = %v, %v", got, again, err)
		}
	}
	if got, want := FormatEPRT(netip.MustParseAddrPort("[::ffff:10.0.0.1]:21")), "|1|10.0.0.1|21|"; got != want {
		t.Errorf("FormatEPRT(mapped) = %q, want %q", got, want)
	}
}

var epsvReplyTests = []struct {
	msg  string
	want uint16 // 0 for an error
}{
	{"Entering Extended Passive Mode (|||6446|)", 6446},
	{"Entering Extended Passive Mode (!!!1!).", 1},
	{"EPSV ok (|||65535|)", 65535},
	{"(|||21|)", 21},
	{"Entering Extended Passive Mode (|||0|)", 0},
	{"Entering Extended Passive Mode (|||65536|)", 0},
	{"Entering Extended Passive Mode (||6446|)", 0},
	{"Entering Extended Passive Mode (|2|::1|6446|)", 0},
	{"Entering Extended Passive Mode (|||6446!)", 0},
	{"Entering Extended Passive Mode (|||644a|)", 0},
	{"Entering Extended Passive Mode |||6446|", 0},
	{"Entering Extended Passive Mode (|||6446|", 0},
	{"(", 0},
	{")(", 0},
	{"", 0},
}

func TestParseEPSVReply(t *testing.T) {
	for _, tt := range epsvReplyTests {
		got, err := ParseEPSVReply(tt.msg)
		if tt.want == 0 {
			if !errors.Is(err, ErrBadHostPort) {
				t.Errorf("ParseEPSVReply(%q) = %d, %v; want ErrBadHostPort", tt.msg, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseEPSVReply(%q) = %d, %v; want %d", tt.msg, got, err, tt.want)
		}
		again, err := ParseEPSVReply(FormatEPSVReply(got))
		if err != nil || again != got {
			t.Errorf("ParseEPSVReply(FormatEPSVReply(%d)) = %d, %v", got, again, err)
		}
	}
}

var epsvArgTests = []struct {
	arg  string
	want EPSVArg
	err  error
}{
	{"", EPSVAny, nil},
	{"1", EPSVIPv4, nil},
	{"2", EPSVIPv6, nil},
	{"ALL", EPSVAll, nil},
	{"all", EPSVAll, nil},
	{" ALL ", EPSVAll, nil},
	{"3", 0, ErrBadProtocol},
	{"0", 0, ErrBadProtocol},
	{"ALLX", 0, ErrBadHostPort},
	{"|1|", 0, ErrBadHostPort},
}

func TestParseEPSVArg(t *testing.T) {
	for _, tt := range epsvArgTests {
		got, err := ParseEPSVArg(tt.arg)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("ParseEPSVArg(%q) = %v, %v; want %v, %v", tt.arg, got, err, tt.want, tt.err)
		}
	}
}
