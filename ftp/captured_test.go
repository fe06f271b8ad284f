package ftp

import (
	"io/fs"
	"testing"
	"time"
)

// capturedNow is when the listings below were captured, by Python's
// ftplib from vsftpd, ProFTPD 1.3.8 and Pure-FTPd running on loopback over
// one directory: a fifo, a 1234-byte file, a file dated 3 days ahead, a
// symlink, a file from 2020, a sticky directory, a setuid file, a name
// with two spaces and a UTF-8 name.
var capturedNow = time.Date(2026, 11, 24, 1, 8, 0, 0, time.UTC)

func listDate(mo time.Month, d, h, m int, y int) time.Time {
	return time.Date(y, mo, d, h, m, 0, 0, time.UTC)
}

var capturedLIST = []struct {
	line string
	want Entry
}{
	{"prw-r--r--    1 0        0               0 Nov 24 01:07 fifo",
		Entry{Name: "fifo", Type: EntryOther, ModTime: listDate(11, 24, 1, 7, 2026), Mode: fs.ModeNamedPipe | 0o644}},
	{"-rw-r--r--    1 0        0            1234 Nov 24 01:07 file.txt",
		Entry{Name: "file.txt", Type: EntryFile, Size: 1234, ModTime: listDate(11, 24, 1, 7, 2026), Mode: 0o644}},
	{"-rw-r--r--    1 0        0               0 Nov 27  2026 future.txt",
		Entry{Name: "future.txt", Type: EntryFile, ModTime: listDate(11, 27, 0, 0, 2026), Mode: 0o644}},
	{"lrwxrwxrwx    1 0        0               8 Nov 24 01:07 link -> file.txt",
		Entry{Name: "link", Type: EntryLink, Size: 8, ModTime: listDate(11, 24, 1, 7, 2026), Mode: fs.ModeSymlink | 0o777, Target: "file.txt"}},
	{"-rw-r--r--    1 0        0               0 Jan 02  2020 old.txt",
		Entry{Name: "old.txt", Type: EntryFile, ModTime: listDate(1, 2, 0, 0, 2020), Mode: 0o644}},
	{"drwxrwxrwt    2 0        0            4096 Nov 24 01:07 sub",
		Entry{Name: "sub", Type: EntryDir, Size: 4096, ModTime: listDate(11, 24, 1, 7, 2026), Mode: fs.ModeDir | fs.ModeSticky | 0o777}},
	{"-rwsr-xr-x    1 0        0               0 Nov 24 01:07 suid",
		Entry{Name: "suid", Type: EntryFile, ModTime: listDate(11, 24, 1, 7, 2026), Mode: fs.ModeSetuid | 0o755}},
	{"-rw-r--r--    1 0        0               5 Nov 24 01:07 with  space.bin",
		Entry{Name: "with  space.bin", Type: EntryFile, Size: 5, ModTime: listDate(11, 24, 1, 7, 2026), Mode: 0o644}},
	{"-rw-r--r--    1 0        0               0 Nov 24 01:07 ünï ☃",
		Entry{Name: "ünï ☃", Type: EntryFile, ModTime: listDate(11, 24, 1, 7, 2026), Mode: 0o644}},
	// ProFTPD writes a date a few days ahead with the time, not the year.
	{"-rw-r--r--   1 root     root            0 Nov 27 01:07 future.txt",
		Entry{Name: "future.txt", Type: EntryFile, ModTime: listDate(11, 27, 1, 7, 2026), Mode: 0o644}},
	{"-rw-r--r--   1 root     root            0 Jan  2  2020 old.txt",
		Entry{Name: "old.txt", Type: EntryFile, ModTime: listDate(1, 2, 0, 0, 2020), Mode: 0o644}},
	{"lrwxrwxrwx   1 root     root            8 Nov 24 01:07 link -> file.txt",
		Entry{Name: "link", Type: EntryLink, Size: 8, ModTime: listDate(11, 24, 1, 7, 2026), Mode: fs.ModeSymlink | 0o777, Target: "file.txt"}},
	{"-rw-r--r--   1 root     root            5 Nov 24 01:07 with  space.bin",
		Entry{Name: "with  space.bin", Type: EntryFile, Size: 5, ModTime: listDate(11, 24, 1, 7, 2026), Mode: 0o644}},
	// Pure-FTPd, LIST -a.
	{"drwxr-xr-x    2 0          105              4096 Nov 24 00:54 .",
		Entry{Name: ".", Type: EntryDir, Size: 4096, ModTime: listDate(11, 24, 0, 54, 2026), Mode: fs.ModeDir | 0o755}},
	{"drwxr-xr-x    2 0          105              4096 Nov 24 00:54 ..",
		Entry{Name: "..", Type: EntryDir, Size: 4096, ModTime: listDate(11, 24, 0, 54, 2026), Mode: fs.ModeDir | 0o755}},
}

func TestParseCapturedLIST(t *testing.T) {
	for _, tt := range capturedLIST {
		got, err := ParseListLine(tt.line, capturedNow)
		if err != nil || !entriesEqual(got, tt.want) {
			t.Errorf("ParseListLine(%q)\n got %+v, %v\nwant %+v", tt.line, got, err, tt.want)
		}
	}
}

var capturedMLSD = []struct {
	line   string
	want   Entry // Facts are checked by count only
	nfacts int
}{
	// ProFTPD 1.3.8
	{"modify=20261124010746;perm=adfr;size=1234;type=file;unique=FE00U985E8B;UNIX.group=0;UNIX.groupname=ftp;UNIX.mode=0644;UNIX.owner=0;UNIX.ownername=ftp; file.txt",
		Entry{Name: "file.txt", Type: EntryFile, Size: 1234, ModTime: time.Date(2026, 11, 24, 1, 7, 46, 0, time.UTC), Mode: 0o644}, 10},
	{"modify=20261124010746;perm=fle;type=cdir;unique=FE00U985E90;UNIX.group=0;UNIX.groupname=ftp;UNIX.mode=0755;UNIX.owner=0;UNIX.ownername=ftp; .",
		Entry{Name: ".", Type: EntryDir, ModTime: time.Date(2026, 11, 24, 1, 7, 46, 0, time.UTC), Mode: fs.ModeDir | 0o755}, 9},
	{"modify=20261124010746;perm=adfr;size=0;type=file;unique=FE00U985E7F;UNIX.group=0;UNIX.groupname=ftp;UNIX.mode=04755;UNIX.owner=0;UNIX.ownername=ftp; suid",
		Entry{Name: "suid", Type: EntryFile, ModTime: time.Date(2026, 11, 24, 1, 7, 46, 0, time.UTC), Mode: fs.ModeSetuid | 0o755}, 10},
	{"modify=20261124010746;perm=adfr;size=8;type=OS.unix=symlink;unique=FE00U985E8B;UNIX.group=0;UNIX.groupname=ftp;UNIX.mode=0777;UNIX.owner=0;UNIX.ownername=ftp; link",
		Entry{Name: "link", Type: EntryLink, Size: 8, ModTime: time.Date(2026, 11, 24, 1, 7, 46, 0, time.UTC), Mode: fs.ModeSymlink | 0o777}, 10},
	{"modify=20261124010746;perm=flcdmpe;type=dir;unique=FE00U985E8D;UNIX.group=0;UNIX.groupname=ftp;UNIX.mode=01777;UNIX.owner=0;UNIX.ownername=ftp; sub",
		Entry{Name: "sub", Type: EntryDir, ModTime: time.Date(2026, 11, 24, 1, 7, 46, 0, time.UTC), Mode: fs.ModeDir | fs.ModeSticky | 0o777}, 9},
	{"modify=20261124010746;perm=adfr;size=5;type=file;unique=FE00U985E8A;UNIX.group=0;UNIX.groupname=ftp;UNIX.mode=0644;UNIX.owner=0;UNIX.ownername=ftp; with  space.bin",
		Entry{Name: "with  space.bin", Type: EntryFile, Size: 5, ModTime: time.Date(2026, 11, 24, 1, 7, 46, 0, time.UTC), Mode: 0o644}, 10},
	// Pure-FTPd
	{"type=pdir;sizd=4096;modify=20261124005436;UNIX.mode=0755;unique=fe00gb80a2; ..",
		Entry{Name: "..", Type: EntryDir, Size: 4096, ModTime: time.Date(2026, 11, 24, 0, 54, 36, 0, time.UTC), Mode: fs.ModeDir | 0o755}, 5},
}

func TestParseCapturedMLSD(t *testing.T) {
	for _, tt := range capturedMLSD {
		got, err := ParseMLSxLine(tt.line)
		facts := got.Facts
		got.Facts = nil
		if err != nil || !entriesEqual(got, tt.want) || len(facts) != tt.nfacts {
			t.Errorf("ParseMLSxLine(%q)\n got %+v (%d facts), %v\nwant %+v (%d facts)", tt.line, got, len(facts), err, tt.want, tt.nfacts)
		}
	}
}
