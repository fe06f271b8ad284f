package ftp

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeInfo is an fs.FileInfo with every field chosen by the test.
type fakeInfo struct {
	name string
	size int64
	mode fs.FileMode
	mod  time.Time
	sys  any
}

func (fi fakeInfo) Name() string       { return fi.name }
func (fi fakeInfo) Size() int64        { return fi.size }
func (fi fakeInfo) Mode() fs.FileMode  { return fi.mode }
func (fi fakeInfo) ModTime() time.Time { return fi.mod }
func (fi fakeInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi fakeInfo) Sys() any           { return fi.sys }

// linkSys is a Sys value that knows a symbolic link's target.
type linkSys string

func (l linkSys) LinkTarget() string { return string(l) }

// listNow is the "now" of the listing tests: 24 November 2026, 13:30 UTC.
var listNow = time.Date(2026, 11, 24, 13, 30, 0, 0, time.UTC)

func TestAppendListLine(t *testing.T) {
	recent := time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC)
	tests := []struct {
		fi   fakeInfo
		want string
	}{
		{fakeInfo{"name", 1234, 0o644, recent, nil},
			"-rw-r--r-- 1 ftp ftp         1234 Nov 24 13:05 name\r\n"},
		{fakeInfo{"pub", 4096, fs.ModeDir | 0o755, time.Date(2025, 11, 24, 9, 0, 0, 0, time.UTC), nil},
			"drwxr-xr-x 1 ftp ftp         4096 Nov 24  2025 pub\r\n"},
		{fakeInfo{"future", 1, 0o600, listNow.Add(time.Hour), nil},
			"-rw------- 1 ftp ftp            1 Nov 24  2026 future\r\n"},
		{fakeInfo{"five months", 0, 0o644, time.Date(2026, 6, 25, 8, 7, 0, 0, time.UTC), nil},
			"-rw-r--r-- 1 ftp ftp            0 Jun 25 08:07 five months\r\n"},
		{fakeInfo{"seven months", 0, 0o644, time.Date(2026, 4, 2, 8, 7, 0, 0, time.UTC), nil},
			"-rw-r--r-- 1 ftp ftp            0 Apr  2  2026 seven months\r\n"},
		{fakeInfo{" spaces  ", 5, 0o644, recent, nil},
			"-rw-r--r-- 1 ftp ftp            5 Nov 24 13:05  spaces  \r\n"},
		{fakeInfo{"日本語.txt", 5, 0o644, recent, nil},
			"-rw-r--r-- 1 ftp ftp            5 Nov 24 13:05 日本語.txt\r\n"},
		{fakeInfo{"evil\r\n-rw-r--r-- 1 ftp ftp 1 Nov 24 13:05 forged", 5, 0o644, recent, nil},
			"-rw-r--r-- 1 ftp ftp            5 Nov 24 13:05 evil??-rw-r--r-- 1 ftp ftp 1 Nov 24 13:05 forged\r\n"},
		{fakeInfo{"link", 6, fs.ModeSymlink | 0o777, recent, linkSys("target")},
			"lrwxrwxrwx 1 ftp ftp            6 Nov 24 13:05 link -> target\r\n"},
		{fakeInfo{"link", 6, fs.ModeSymlink | 0o777, recent, nil},
			"lrwxrwxrwx 1 ftp ftp            6 Nov 24 13:05 link\r\n"},
		{fakeInfo{"null", 0, fs.ModeDevice | fs.ModeCharDevice | 0o666, recent, nil},
			"crw-rw-rw- 1 ftp ftp            0 Nov 24 13:05 null\r\n"},
		{fakeInfo{"sda", 0, fs.ModeDevice | 0o660, recent, nil},
			"brw-rw---- 1 ftp ftp            0 Nov 24 13:05 sda\r\n"},
		{fakeInfo{"fifo", 0, fs.ModeNamedPipe | 0o644, recent, nil},
			"prw-r--r-- 1 ftp ftp            0 Nov 24 13:05 fifo\r\n"},
		{fakeInfo{"sock", 0, fs.ModeSocket | 0o755, recent, nil},
			"srwxr-xr-x 1 ftp ftp            0 Nov 24 13:05 sock\r\n"},
		{fakeInfo{"tmp", 0, fs.ModeDir | fs.ModeSticky | 0o777, recent, nil},
			"drwxrwxrwt 1 ftp ftp            0 Nov 24 13:05 tmp\r\n"},
		{fakeInfo{"suid", 0, fs.ModeSetuid | fs.ModeSetgid | 0o644, recent, nil},
			"-rwSr-Sr-- 1 ftp ftp            0 Nov 24 13:05 suid\r\n"},
		{fakeInfo{"big", 1 << 50, fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o755, recent, nil},
			"-rwsr-sr-t 1 ftp ftp 1125899906842624 Nov 24 13:05 big\r\n"},
	}
	for _, tt := range tests {
		got := string(AppendListLine([]byte("x"), tt.fi, listNow))
		if got != "x"+tt.want {
			t.Errorf("AppendListLine(%q):\n got %q\nwant %q", tt.fi.name, got, "x"+tt.want)
		}
	}
	// The date is shown in now's location.
	east := listNow.In(time.FixedZone("east", 3*3600))
	got := string(AppendListLine(nil, fakeInfo{"z", 0, 0o644, recent, nil}, east))
	if want := "-rw-r--r-- 1 ftp ftp            0 Nov 24 16:05 z\r\n"; got != want {
		t.Errorf("AppendListLine in +03:00 = %q, want %q", got, want)
	}
}

func TestAppendNameLine(t *testing.T) {
	if got, want := string(AppendNameLine([]byte("a\r\n"), " b c\nd")), "a\r\n b c?d\r\n"; got != want {
		t.Errorf("AppendNameLine = %q, want %q", got, want)
	}
}

func TestListRoundTrip(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC),
	}
	infos := []fakeInfo{
		{"file.txt", 1234, 0o644, times[0], nil},
		{"dir", 4096, fs.ModeDir | 0o755, times[1], nil},
		{"a b  c ", 0, 0o600, times[2], nil},
		{"  leading", 1 << 40, 0o644, times[3], nil},
		{"Nov 24 13:05 x", 7, 0o644, times[0], nil},
		{"ünïcødé ☃", 9, fs.ModeSetuid | 0o755, times[0], nil},
		{"link", 4, fs.ModeSymlink | 0o777, times[0], linkSys("../some where")},
	}
	for _, fi := range infos {
		line := string(AppendListLine(nil, fi, listNow))
		e, err := ParseListLine(line, listNow)
		if err != nil {
			t.Errorf("ParseListLine(%q): %v", line, err)
			continue
		}
		wantType := EntryFile
		switch {
		case fi.mode.IsDir():
			wantType = EntryDir
		case fi.mode&fs.ModeSymlink != 0:
			wantType = EntryLink
		}
		var target string
		if ls, ok := fi.sys.(linkSys); ok {
			target = string(ls)
		}
		if e.Name != fi.name || e.Size != fi.size || e.Type != wantType || e.Mode != fi.mode ||
			!e.ModTime.Equal(fi.mod) || e.Target != target || e.Facts != nil {
			t.Errorf("ParseListLine(%q) = %+v; want name %q size %d type %v mode %v time %v target %q",
				line, e, fi.name, fi.size, wantType, fi.mode, fi.mod, target)
		}
	}
}

// The year for "Mon DD HH:MM" is the latest that does not put the date more
// than a few days after now.
func TestParseListLineYear(t *testing.T) {
	tests := []struct {
		now  time.Time
		date string
		want time.Time
	}{
		{listNow, "Nov 24 13:05", time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC)},
		{listNow, "Nov 27 10:00", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		{listNow, "Dec 24 10:00", time.Date(2025, 12, 24, 10, 0, 0, 0, time.UTC)},
		{listNow, "Jan  1 00:00", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 12, 30, 0, 0, 0, 0, time.UTC), "Jan  2 08:00", time.Date(2027, 1, 2, 8, 0, 0, 0, time.UTC)},
		{time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC), "Dec 30 10:00", time.Date(2025, 12, 30, 10, 0, 0, 0, time.UTC)},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), "Feb 29 12:00", time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)},
		{listNow, "Feb 29  2024", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{listNow, "Mar  5  1999", time.Date(1999, 3, 5, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		line := "-rw-r--r-- 1 u g 1 " + tt.date + " f"
		e, err := ParseListLine(line, tt.now)
		if err != nil || !e.ModTime.Equal(tt.want) {
			t.Errorf("ParseListLine(%q, now %v) = %v, %v; want %v", line, tt.now, e.ModTime, err, tt.want)
		}
	}
}

// listLineTests are LIST lines as real servers send them.
var listLineTests = []struct {
	server string
	line   string
	want   Entry // zero Name: the line must fail
}{
	{"vsftpd", "-rw-r--r--    1 1000     1000         1234 Nov 24 13:05 file.txt",
		Entry{Name: "file.txt", Type: EntryFile, Size: 1234, ModTime: time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC), Mode: 0o644}},
	{"vsftpd", "drwxr-xr-x    2 0        0            4096 Jan 01  2020 pub\r\n",
		Entry{Name: "pub", Type: EntryDir, Size: 4096, ModTime: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Mode: fs.ModeDir | 0o755}},
	{"vsftpd", "lrwxrwxrwx    1 0        0               7 Nov 20 10:00 latest -> v1.2.3",
		Entry{Name: "latest", Type: EntryLink, Size: 7, ModTime: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), Mode: fs.ModeSymlink | 0o777, Target: "v1.2.3"}},
	{"ProFTPD", "-rw-r--r--   1 ftp      ftp          1048576 Aug  3 09:41 with space.bin\r\n",
		Entry{Name: "with space.bin", Type: EntryFile, Size: 1048576, ModTime: time.Date(2026, 8, 3, 9, 41, 0, 0, time.UTC), Mode: 0o644}},
	{"ProFTPD", "drwxrwsr-x   3 ftp      staff        4096 Mar 15  2019 shared",
		Entry{Name: "shared", Type: EntryDir, Size: 4096, ModTime: time.Date(2019, 3, 15, 0, 0, 0, 0, time.UTC), Mode: fs.ModeDir | fs.ModeSetgid | 0o775}},
	{"Pure-FTPd", "-rw-r--r--    1 1000       1000             1234 Nov 24 13:05 file.txt",
		Entry{Name: "file.txt", Type: EntryFile, Size: 1234, ModTime: time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC), Mode: 0o644}},
	{"Pure-FTPd", "drwxrwxrwt    2 0          0                4096 Nov 24 13:05 tmp",
		Entry{Name: "tmp", Type: EntryDir, Size: 4096, ModTime: time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC), Mode: fs.ModeDir | fs.ModeSticky | 0o777}},
	{"no group", "-rw-r--r--   1 owner          42 Oct 31 23:59 halloween",
		Entry{Name: "halloween", Type: EntryFile, Size: 42, ModTime: time.Date(2026, 10, 31, 23, 59, 0, 0, time.UTC), Mode: 0o644}},
	{"char device", "crw-rw-rw-   1 root     root       1,   3 Nov 24 13:05 null",
		Entry{Name: "null", Type: EntryOther, ModTime: time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC), Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666}},
	{"block device", "brw-rw----   1 root     disk       8,0 Nov 24 13:05 sda",
		Entry{Name: "sda", Type: EntryOther, ModTime: time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC), Mode: fs.ModeDevice | 0o660}},
	{"ACL marker", "-rw-r--r--+  1 alice    users          12 Nov 24 13:05 acl",
		Entry{Name: "acl", Type: EntryFile, Size: 12, ModTime: time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC), Mode: 0o644}},
	{"leading blanks", "   -rw-r--r-- 1 u g 1 Nov 24 13:05  two  spaces ",
		Entry{Name: " two  spaces ", Type: EntryFile, Size: 1, ModTime: time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC), Mode: 0o644}},
	{"owner named like a month", "-rw-r--r-- 1 jan may 10 Nov 24 13:05 x",
		Entry{Name: "x", Type: EntryFile, Size: 10, ModTime: time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC), Mode: 0o644}},
	{"IIS", "11-24-26  01:05PM       <DIR>          name",
		Entry{Name: "name", Type: EntryDir, ModTime: time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC)}},
	{"IIS", "11-24-26  12:05AM                 1234 report 2026.pdf\r\n",
		Entry{Name: "report 2026.pdf", Type: EntryFile, Size: 1234, ModTime: time.Date(2026, 11, 24, 0, 5, 0, 0, time.UTC)}},
	{"IIS four-digit year", "11-24-2026  13:05  1234 name",
		Entry{Name: "name", Type: EntryFile, Size: 1234, ModTime: time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC)}},
	{"IIS old", "02-03-98  12:00PM                   10 old.txt",
		Entry{Name: "old.txt", Type: EntryFile, Size: 10, ModTime: time.Date(1998, 2, 3, 12, 0, 0, 0, time.UTC)}},
	{"bad mode", "-rw-r--r-x- 1 u g 1 Nov 24 13:05 f", Entry{}},
	{"bad mode letter", "xrw-r--r-- 1 u g 1 Nov 24 13:05 f", Entry{}},
	{"no date", "-rw-r--r-- 1 u g 1 f", Entry{}},
	{"no name", "-rw-r--r-- 1 u g 1 Nov 24 13:05", Entry{}},
	{"no name after blank", "-rw-r--r-- 1 u g 1 Nov 24 13:05 ", Entry{}},
	{"bad day", "-rw-r--r-- 1 u g 1 Nov 31 13:05 f", Entry{}},
	{"bad clock", "-rw-r--r-- 1 u g 1 Nov 24 25:05 f", Entry{}},
	{"EPLF", "+i8388621.48594,m825718503,r,s280,\tdjb.html", Entry{}},
	{"IIS bad hour", "11-24-26  13:05PM  1 f", Entry{}},
	{"IIS bad date", "13-24-26  01:05PM  1 f", Entry{}},
	{"IIS no name", "11-24-26  01:05PM  1", Entry{}},
	{"IIS bad size", "11-24-26  01:05PM  <FILE> f", Entry{}},
	{"garbage", "hello world", Entry{}},
}

func TestParseListLine(t *testing.T) {
	for _, tt := range listLineTests {
		got, err := ParseListLine(tt.line, listNow)
		if tt.want.Name == "" {
			if !errors.Is(err, ErrBadListLine) {
				t.Errorf("%s: ParseListLine(%q) = %+v, %v; want ErrBadListLine", tt.server, tt.line, got, err)
			}
			continue
		}
		if err != nil || !entriesEqual(got, tt.want) {
			t.Errorf("%s: ParseListLine(%q)\n got %+v, %v\nwant %+v", tt.server, tt.line, got, err, tt.want)
		}
	}
}

func TestParseListLineSkip(t *testing.T) {
	for _, line := range []string{"total 42", "total 0\r\n", "", "\r\n", "   "} {
		if e, err := ParseListLine(line, listNow); !errors.Is(err, ErrSkipLine) {
			t.Errorf("ParseListLine(%q) = %+v, %v; want ErrSkipLine", line, e, err)
		}
	}
}

func entriesEqual(a, b Entry) bool {
	if a.Name != b.Name || a.Type != b.Type || a.Size != b.Size || !a.ModTime.Equal(b.ModTime) ||
		a.Mode != b.Mode || a.Target != b.Target || len(a.Facts) != len(b.Facts) {
		return false
	}
	for k, v := range a.Facts {
		if w, ok := b.Facts[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// A real directory, listed through os.Lstat, gives lines that parse back.
func TestListRealFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a file"), []byte("hello"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, name := range []string{"a file", "sub"} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		line := string(AppendListLine(nil, fi, now))
		e, err := ParseListLine(line, now)
		if err != nil || e.Name != name || e.Mode != fi.Mode()&^fs.ModeType|fi.Mode()&fs.ModeDir {
			t.Errorf("ParseListLine(%q) = %+v, %v", line, e, err)
		}
		if !fi.IsDir() && e.Size != 5 {
			t.Errorf("size of %q = %d, want 5", name, e.Size)
		}
	}
}

func TestAppendZeroAllocs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "some file.txt")
	if err := os.WriteFile(path, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	real, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := real.Sys().(*syscall.Stat_t); !ok {
		t.Fatalf("os.Lstat Sys() is %T, want *syscall.Stat_t", real.Sys())
	}
	infos := []fs.FileInfo{
		real,
		fakeInfo{"link", 4, fs.ModeSymlink | 0o777, listNow, linkSys("target")},
		fakeInfo{"old", 1 << 40, 0o644, listNow.AddDate(-3, 0, 0), nil},
	}
	buf := make([]byte, 0, 512)
	for _, fi := range infos {
		if n := testing.AllocsPerRun(100, func() { buf = AppendListLine(buf[:0], fi, listNow) }); n != 0 {
			t.Errorf("AppendListLine(%s): %v allocs per run, want 0", fi.Name(), n)
		}
		if n := testing.AllocsPerRun(100, func() { buf = AppendFacts(buf[:0], fi, fi.Name(), "", AllFacts, "adfrw") }); n != 0 {
			t.Errorf("AppendFacts(%s): %v allocs per run, want 0", fi.Name(), n)
		}
		if n := testing.AllocsPerRun(100, func() { buf = AppendNameLine(buf[:0], fi.Name()) }); n != 0 {
			t.Errorf("AppendNameLine(%s): %v allocs per run, want 0", fi.Name(), n)
		}
	}
	if !strings.Contains(string(AppendFacts(nil, real, "x", "", AllFacts, "")), "unique=") {
		t.Errorf("AppendFacts of an os.FileInfo has no unique fact")
	}
}

func BenchmarkAppendListLine(b *testing.B) {
	var fi fs.FileInfo = fakeInfo{"some file name.tar.gz", 123456789, 0o644, listNow.Add(-time.Hour), nil}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendListLine(buf[:0], fi, listNow)
	}
}

// TestAppendName checks the CR and LF escaping that every listing line
// uses against strings.Replacer, for edge cases and random bytes.
func TestAppendName(t *testing.T) {
	escape := strings.NewReplacer("\r", "?", "\n", "?")
	names := []string{"", "a", " spaces  in  name ", "\r", "\n", "\r\n", "\n\r", "a\rb\nc", "\r\r\nend", "start\n\n",
		"caf\xe9", "日本語\r\n.txt", strings.Repeat("x\n", 200)}
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = "ab \r\n\xff."[r.IntN(7)]
		}
		names = append(names, string(b))
	}
	for _, name := range names {
		if got, want := string(appendName([]byte("x"), name)), "x"+escape.Replace(name); got != want {
			t.Errorf("appendName(%q) = %q, want %q", name, got, want)
		}
	}
}
