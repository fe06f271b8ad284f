package main

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// The harness itself runs only by hand (it needs root, the peers and
// minutes); these tests keep its parsing and arithmetic honest.

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "64MiB": 64 << 20, "4KiB": 4096, "512": 512, "2M": 2 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1MiB", "1TiB", "x"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

func TestParsePASV(t *testing.T) {
	got, err := parsePASV("Entering Passive Mode (127,0,0,1,39,16).")
	if err != nil || got != "127.0.0.1:10000" {
		t.Fatalf("got %q, %v", got, err)
	}
	for _, in := range []string{"Entering Passive Mode", "(1,2,3,4,5)", "(1,2,3,4,5,256)", "(a,2,3,4,5,6)"} {
		if _, err := parsePASV(in); err == nil {
			t.Errorf("parsePASV(%q) accepted", in)
		}
	}
}

func TestParseRollup(t *testing.T) {
	in := "55d0a000-7ffd [rollup]\nRss:                3080 kB\nPss:                1234 kB\nPss_Anon:            800 kB\n"
	if rss, pss := parseRollup([]byte(in)); rss != 3080 || pss != 1234 {
		t.Fatalf("rss %d pss %d", rss, pss)
	}
}

func TestTreeMemorySelf(t *testing.T) {
	m := treeMemory(os.Getpid())
	if m.Procs < 1 || m.RSS <= 0 || m.PSS <= 0 || m.PSS > m.RSS {
		t.Fatalf("own memory %+v", m)
	}
	if treeRSS(os.Getpid()) <= 0 {
		t.Fatal("treeRSS of this process is 0")
	}
}

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("odd: %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("even: %v", m)
	}
}

func TestCryptHash(t *testing.T) {
	for in, want := range map[string]string{
		"$y$j9T$salt$hash":             "yescrypt j9T",
		"$6$salt$hash":                 "sha512crypt rounds=5000",
		"$6$rounds=10000$salt$hash":    "sha512crypt rounds=10000",
		"$2b$12$saltandhashxxxxxxxxxx": "bcrypt cost=12",
		"plain":                        "crypt?",
	} {
		if got := cryptHash(in); got != want {
			t.Errorf("cryptHash(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestForEach(t *testing.T) {
	var sum atomic.Int64
	if err := forEach(100, 7, func(i int) error { sum.Add(int64(i)); return nil }); err != nil || sum.Load() != 4950 {
		t.Fatalf("sum %d, err %v", sum.Load(), err)
	}
	boom := errors.New("boom")
	var calls atomic.Int64
	err := forEach(1000, 4, func(i int) error {
		calls.Add(1)
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || calls.Load() == 1000 {
		t.Fatalf("err %v after %d calls", err, calls.Load())
	}
}

func TestPrintSpread(t *testing.T) {
	r := &report{
		opts:    &options{runs: 3},
		servers: []string{"ferry", "vsftpd"},
		metrics: []metric{{id: "dl", what: "download", limit: "sf"}, {id: "none", what: "absent"}},
		samples: map[string]map[string][]float64{
			"dl":       {"ferry": {1200, 1500, 1350}, "vsftpd": {1400, 1410, 1390}},
			"limit:sf": {"limit": {1600, 1700, 1650}},
		},
	}
	var b strings.Builder
	r.printSpread(&b)
	want := "Spread over the runs (lowest-highest):\n  download: ferry 1200-1500, vsftpd 1390-1410, limit 1600-1700\n"
	if b.String() != want {
		t.Fatalf("spread:\n%s\nwant:\n%s", b.String(), want)
	}
}

// The peers' settings are part of what the figures mean: they must not
// change unnoticed. testdata holds the files bench wrote for them.
func TestPeerConfigs(t *testing.T) {
	e := &env{root: "/srv/bench/root", anonRoot: "/srv/ftp", cert: "/w/cert.pem", key: "/w/key.pem"}
	want, err := os.ReadFile("testdata/vsftpd.conf")
	if err != nil {
		t.Fatal(err)
	}
	if got := vsftpdConfig(e, "/w/vsftpd", 2121, 10000).String(); got != string(want) {
		t.Errorf("vsftpd.conf:\n%s\nwant testdata/vsftpd.conf:\n%s", got, want)
	}
	want, err = os.ReadFile("testdata/pure-ftpd.args")
	if err != nil {
		t.Fatal(err)
	}
	got := pureFTPdConfig(e, "/w/pure-ftpd/pureftpd.pdb", 2121, 10000).Args()
	if strings.Join(got, "\n")+"\n" != string(want) {
		t.Errorf("pure-ftpd arguments:\n%s\nwant testdata/pure-ftpd.args:\n%s", strings.Join(got, "\n"), want)
	}
}
