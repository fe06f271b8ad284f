package config

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the config loader and validator: they
// must return an error or a config, never panic, and never touch the
// network (host names resolve through a stub).
func FuzzLoad(f *testing.F) {
	if seed, err := os.ReadFile("../../ferry.example.toml"); err == nil {
		f.Add(seed)
	}
	for _, s := range []string{
		"", "[[listen]]\naddress = \"127.0.0.1:21\"\n", "[passive]\nports = \"2-1\"\n",
		"[timeouts]\nidle = \"-5m\"\n", "[passive]\naddress = \"ftp.example.invalid\"\n",
		"[[passive.networks]]\nclients = \"10.0.0.0/8\"\naddress = \"10.0.0.5\"\n",
		"[tls]\ncert_file = \"x\"\n", "[limits]\nmax_line = 99999999999999999999\n", "unknown = 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "ferry.toml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			return
		}
		c.lookup = func(context.Context, string, string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("192.0.2.1")}, nil
		}
		_ = c.Validate(context.Background())
	})
}
