package ftp

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"
	"time"
)

func TestFactList(t *testing.T) {
	tests := []struct {
		in      string
		want    Facts
		str     string
		feature string
	}{
		{"type;size;", FactType | FactSize, "type;size;", "MLST type*;size*;modify;perm;unix.mode;unique;"},
		{"TYPE;Modify;unix.MODE", FactType | FactModify | FactUnixMode, "type;modify;unix.mode;", "MLST type*;size;modify*;perm;unix.mode*;unique;"},
		{"", 0, "", "MLST type;size;modify;perm;unix.mode;unique;"},
		{";;", 0, "", "MLST type;size;modify;perm;unix.mode;unique;"},
		{"media-type;charset;unique;", FactUnique, "unique;", "MLST type;size;modify;perm;unix.mode;unique*;"},
		{"type;size;modify;perm;unix.mode;unique;", AllFacts, "type;size;modify;perm;unix.mode;unique;",
			"MLST type*;size*;modify*;perm*;unix.mode*;unique*;"},
		{" perm ; size", FactPerm | FactSize, "size;perm;", "MLST type;size*;modify;perm*;unix.mode;unique;"},
	}
	for _, tt := range tests {
		got := ParseFactList(tt.in)
		if got != tt.want || got.String() != tt.str || got.Feature() != tt.feature {
			t.Errorf("ParseFactList(%q) = %v (%q, %q); want %v (%q, %q)",
				tt.in, uint8(got), got.String(), got.Feature(), uint8(tt.want), tt.str, tt.feature)
		}
		if again := ParseFactList(got.String()); again != got {
			t.Errorf("ParseFactList(%q) = %v, want %v", got.String(), uint8(again), uint8(got))
		}
	}
}

func TestAppendFacts(t *testing.T) {
	mod := time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC)
	st := &syscall.Stat_t{Dev: 0x803, Ino: 0x1f2c}
	tests := []struct {
		fi      fakeInfo
		name    string
		kind    string
		enabled Facts
		perm    string
		want    string
	}{
		{fakeInfo{"f", 12, 0o644, mod, st}, "f", "", AllFacts, "r",
			"type=file;size=12;modify=20261124130500;perm=r;unix.mode=0644;unique=803U1f2c; f\r\n"},
		{fakeInfo{"f", 12, 0o644, mod, nil}, "f", "", AllFacts, "",
			"type=file;size=12;modify=20261124130500;unix.mode=0644; f\r\n"},
		{fakeInfo{"d", 4096, fs.ModeDir | 0o755, mod, nil}, "d", "", AllFacts, "flcdmpe",
			"type=dir;modify=20261124130500;perm=flcdmpe;unix.mode=0755; d\r\n"},
		{fakeInfo{"d", 4096, fs.ModeDir | 0o755, mod, nil}, ".", "cdir", FactType | FactModify, "",
			"type=cdir;modify=20261124130500; .\r\n"},
		{fakeInfo{"d", 4096, fs.ModeDir | 0o755, mod, nil}, "..", "pdir", FactType, "",
			"type=pdir; ..\r\n"},
		{fakeInfo{"l", 3, fs.ModeSymlink | 0o777, mod, nil}, "l", "", FactType | FactSize, "",
			"type=OS.unix=slink;size=3; l\r\n"},
		{fakeInfo{"p", 0, fs.ModeNamedPipe | 0o600, mod, nil}, "p", "", FactType, "", "type=OS.unix=fifo; p\r\n"},
		{fakeInfo{"s", 0, fs.ModeSocket | 0o600, mod, nil}, "s", "", FactType, "", "type=OS.unix=socket; s\r\n"},
		{fakeInfo{"c", 0, fs.ModeDevice | fs.ModeCharDevice | 0o600, mod, nil}, "c", "", FactType, "", "type=OS.unix=chr; c\r\n"},
		{fakeInfo{"b", 0, fs.ModeDevice | 0o600, mod, nil}, "b", "", FactType, "", "type=OS.unix=blk; b\r\n"},
		{fakeInfo{"x", 1, fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o755, mod, nil}, "x", "", FactUnixMode, "",
			"unix.mode=7755; x\r\n"},
		{fakeInfo{"f", 1, 0o644, mod, nil}, " a b ", "", 0, "", "  a b \r\n"},
		{fakeInfo{"f", 1, 0o644, mod, nil}, "evil\r\ntype=file; forged", "", FactSize, "",
			"size=1; evil??type=file; forged\r\n"},
	}
	for _, tt := range tests {
		got := string(AppendFacts([]byte("x"), tt.fi, tt.name, tt.kind, tt.enabled, tt.perm))
		if got != "x"+tt.want {
			t.Errorf("AppendFacts(%q, %q, %q):\n got %q\nwant %q", tt.name, tt.kind, tt.enabled, got, "x"+tt.want)
		}
	}
}

// mlsxTests are MLSD lines as real servers send them.
var mlsxTests = []struct {
	line string
	want Entry // zero Name: the line must fail
}{
	{"type=file;size=12;modify=20261124130500;perm=r;unix.mode=0644;unique=803U1f2c; f\r\n",
		Entry{Name: "f", Type: EntryFile, Size: 12, ModTime: time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC), Mode: 0o644,
			Facts: map[string]string{"type": "file", "size": "12", "modify": "20261124130500", "perm": "r", "unix.mode": "0644", "unique": "803U1f2c"}}},
	// ProFTPD
	{"modify=20190315120000;perm=flcdmpe;type=cdir;unique=FD00U2;UNIX.group=0;UNIX.mode=02775;UNIX.owner=0; .",
		Entry{Name: ".", Type: EntryDir, ModTime: time.Date(2019, 3, 15, 12, 0, 0, 0, time.UTC), Mode: fs.ModeDir | fs.ModeSetgid | 0o775,
			Facts: map[string]string{"modify": "20190315120000", "perm": "flcdmpe", "type": "cdir", "unique": "FD00U2", "unix.group": "0", "unix.mode": "02775", "unix.owner": "0"}}},
	{"type=OS.unix=symlink;size=7;modify=20261120100000; latest",
		Entry{Name: "latest", Type: EntryLink, Size: 7, ModTime: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
			Facts: map[string]string{"type": "OS.unix=symlink", "size": "7", "modify": "20261120100000"}}},
	// Pure-FTPd
	{"type=pdir;sizd=4096;modify=20261124130500;UNIX.mode=0755;UNIX.uid=0;UNIX.gid=0;unique=803g2; ..",
		Entry{Name: "..", Type: EntryDir, Size: 4096, ModTime: time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC), Mode: fs.ModeDir | 0o755,
			Facts: map[string]string{"type": "pdir", "sizd": "4096", "modify": "20261124130500", "unix.mode": "0755", "unix.uid": "0", "unix.gid": "0", "unique": "803g2"}}},
	{"Type=OS.unix=slink:/etc/target;Modify=20261124130500.25; name with  spaces ",
		Entry{Name: "name with  spaces ", Type: EntryLink, Target: "/etc/target", ModTime: time.Date(2026, 11, 24, 13, 5, 0, 250_000_000, time.UTC),
			Facts: map[string]string{"type": "OS.unix=slink:/etc/target", "modify": "20261124130500.25"}}},
	{"type=OS.unix=chr-1/3; null",
		Entry{Name: "null", Type: EntryOther, Facts: map[string]string{"type": "OS.unix=chr-1/3"}}},
	{"type=FILE; upper", Entry{Name: "upper", Type: EntryFile, Facts: map[string]string{"type": "FILE"}}},
	{" no facts", Entry{Name: "no facts", Type: EntryOther, Facts: map[string]string{}}},
	{"size=1;", Entry{}},
	{"size=1;x", Entry{}},
	{"size=1; ", Entry{}},
	{"size=-1; f", Entry{}},
	{"size=+1; f", Entry{}},
	{"size=1x; f", Entry{}},
	{"modify=2026; f", Entry{}},
	{"unix.mode=0999; f", Entry{}},
	{"unix.mode=17777; f", Entry{}},
	{"=x; f", Entry{}},
	{"novalue; f", Entry{}},
	{"type=file; a\rb", Entry{}},
	{"", Entry{}},
}

func TestParseMLSxLine(t *testing.T) {
	for _, tt := range mlsxTests {
		got, err := ParseMLSxLine(tt.line)
		if tt.want.Name == "" {
			if !errors.Is(err, ErrBadListLine) {
				t.Errorf("ParseMLSxLine(%q) = %+v, %v; want ErrBadListLine", tt.line, got, err)
			}
			continue
		}
		if err != nil || !entriesEqual(got, tt.want) {
			t.Errorf("ParseMLSxLine(%q)\n got %+v, %v\nwant %+v", tt.line, got, err, tt.want)
		}
	}
}

func TestMLSxRoundTrip(t *testing.T) {
	mod := time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC)
	for _, fi := range []fakeInfo{
		{"file.txt", 1234, 0o644, mod, nil},
		{"dir", 0, fs.ModeDir | 0o755, mod, nil},
		{"link", 4, fs.ModeSymlink | 0o777, mod, nil},
		{" a ; b=c; ", 1 << 40, fs.ModeSetuid | 0o700, mod.AddDate(-30, 0, 0), &syscall.Stat_t{Dev: 1, Ino: 2}},
	} {
		line := string(AppendFacts(nil, fi, fi.name, "", AllFacts, "r"))
		e, err := ParseMLSxLine(line)
		if err != nil {
			t.Errorf("ParseMLSxLine(%q): %v", line, err)
			continue
		}
		want := Entry{Name: fi.name, Size: fi.size, ModTime: fi.mod, Mode: fi.mode, Type: EntryFile}
		switch {
		case fi.mode.IsDir():
			want.Type, want.Size = EntryDir, 0
		case fi.mode&fs.ModeSymlink != 0:
			want.Type = EntryLink
		}
		if e.Name != want.Name || e.Type != want.Type || e.Size != want.Size || !e.ModTime.Equal(want.ModTime) || e.Mode != want.Mode {
			t.Errorf("ParseMLSxLine(%q)\n got %+v\nwant %+v", line, e, want)
		}
		if fi.sys != nil && e.Facts["unique"] != "1U2" {
			t.Errorf("ParseMLSxLine(%q): unique %q, want 1U2", line, e.Facts["unique"])
		}
	}
}

func BenchmarkAppendFacts(b *testing.B) {
	var fi fs.FileInfo = fakeInfo{"some file name.tar.gz", 123456789, 0o644, listNow, &syscall.Stat_t{Dev: 0x803, Ino: 0x123456}}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendFacts(buf[:0], fi, fi.Name(), "", AllFacts, "adfrw")
	}
}
