package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestNetrc(t *testing.T) {
	const file = `# comment
machine ftp.example.com login bob password "se cret\"x"
machine ftp.example.com
  login carol
  password pw2
macdef init
cd /pub
binary

machine other.example.com login dave
default login anon password guest
`
	entries, err := parseNetrc(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host, user      string
		login, password string
		ok              bool
	}{
		{"ftp.example.com", "", "bob", `se cret"x`, true},
		{"FTP.example.com", "carol", "carol", "pw2", true},
		{"other.example.com", "", "dave", "", true},
		{"unknown.example.com", "", "anon", "guest", true},
		{"ftp.example.com", "zed", "", "", false},
	}
	for _, tt := range tests {
		e, ok := matchNetrc(entries, tt.host, tt.user)
		if ok != tt.ok || e.Login != tt.login || e.Password != tt.password {
			t.Errorf("match(%q, %q) = %+v, %v; want %q %q %v", tt.host, tt.user, e, ok, tt.login, tt.password, tt.ok)
		}
	}
	for _, bad := range []string{"login x", "machine", "machine h bogus x", `machine h password "open`} {
		if _, err := parseNetrc(strings.NewReader(bad)); err == nil {
			t.Errorf("parseNetrc(%q): no error", bad)
		}
	}

	// $NETRC is honoured by lookupNetrc.
	p := filepath.Join(t.TempDir(), "netrc")
	writeFile(t, p, file)
	t.Setenv("NETRC", p)
	if e, ok, err := lookupNetrc("other.example.com", ""); err != nil || !ok || e.Login != "dave" {
		t.Errorf("lookupNetrc = %+v %v %v", e, ok, err)
	}
	t.Setenv("NETRC", filepath.Join(t.TempDir(), "missing"))
	if _, ok, err := lookupNetrc("other.example.com", ""); err != nil || ok {
		t.Errorf("missing file: %v %v", ok, err)
	}
}
