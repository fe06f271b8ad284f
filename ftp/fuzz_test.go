package ftp

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fuzzers are seeded from the table tests, so every case there is
// also a property check, and they assert properties rather than values:
// no panic, a successful parse formats and parses back to itself, and
// nothing parsed carries CR or LF.

func FuzzParseCommand(f *testing.F) {
	for _, tt := range commandTests {
		f.Add(tt.line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseCommand(line)
		if err != nil {
			if c != (Command{}) {
				t.Errorf("ParseCommand(%q) failed but returned %+v", line, c)
			}
			return
		}
		// A CR may reach the argument, sent as CR NUL (RFC 2640); LF
		// and NUL never, nor anything but letters and digits the verb.
		if strings.ContainsAny(c.Verb, "\r\n\x00") || strings.ContainsAny(c.Arg, "\n\x00") {
			t.Fatalf("ParseCommand(%q) = %+v: CR, LF or NUL inside", line, c)
		}
		if c.Verb == "" || len(c.Verb) > MaxVerbLen || c.Verb != strings.ToUpper(c.Verb) {
			t.Fatalf("ParseCommand(%q): bad verb %q", line, c.Verb)
		}
		again, err := ParseCommand(c.String() + "\r\n")
		if err != nil || again != c {
			t.Fatalf("ParseCommand(%q) = %+v, but its String %q parses to %+v, %v", line, c, c.String(), again, err)
		}
	})
}

func FuzzParseHostPort(f *testing.F) {
	for _, tt := range hostPortTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := ParseHostPort(s)
		if err != nil {
			return
		}
		out, err := FormatHostPort(ap)
		if err != nil {
			t.Fatalf("FormatHostPort(%v) from %q: %v", ap, s, err)
		}
		again, err := ParseHostPort(out)
		if err != nil || again != ap {
			t.Fatalf("ParseHostPort(%q) = %v, %v; want %v (from %q)", out, again, err, ap, s)
		}
	})
}

func FuzzParsePASVReply(f *testing.F) {
	for _, tt := range pasvTests {
		f.Add(tt.msg)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		ap, err := ParsePASVReply(msg)
		if err != nil {
			if !errors.Is(err, ErrBadHostPort) {
				t.Fatalf("ParsePASVReply(%q): error %v does not wrap ErrBadHostPort", msg, err)
			}
			return
		}
		if !ap.Addr().Is4() {
			t.Fatalf("ParsePASVReply(%q) = %v: not IPv4", msg, ap)
		}
		hp, err := FormatHostPort(ap)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParsePASVReply("Entering Passive Mode (" + hp + ").")
		if err != nil || again != ap {
			t.Fatalf("reparse of %v = %v, %v", ap, again, err)
		}
	})
}

func FuzzParseEPRT(f *testing.F) {
	for _, tt := range eprtTests {
		f.Add(tt.arg)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		ap, err := ParseEPRT(arg)
		if err != nil {
			if !errors.Is(err, ErrBadHostPort) && !errors.Is(err, ErrBadProtocol) {
				t.Fatalf("ParseEPRT(%q): unexpected error %v", arg, err)
			}
			return
		}
		if ap.Port() == 0 || ap.Addr().Zone() != "" || ap.Addr().Is4In6() {
			t.Fatalf("ParseEPRT(%q) = %v", arg, ap)
		}
		proto := arg[1]
		if proto == '1' != ap.Addr().Is4() {
			t.Fatalf("ParseEPRT(%q) = %v: protocol and family disagree", arg, ap)
		}
		again, err := ParseEPRT(FormatEPRT(ap))
		if err != nil || again != ap {
			t.Fatalf("ParseEPRT(FormatEPRT(%v) = %q) = %v, %v", ap, FormatEPRT(ap), again, err)
		}
	})
}

func FuzzParseEPSVReply(f *testing.F) {
	for _, tt := range epsvReplyTests {
		f.Add(tt.msg)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		port, err := ParseEPSVReply(msg)
		if err != nil {
			return
		}
		if port == 0 {
			t.Fatalf("ParseEPSVReply(%q) = port 0", msg)
		}
		again, err := ParseEPSVReply(FormatEPSVReply(port))
		if err != nil || again != port {
			t.Fatalf("ParseEPSVReply(FormatEPSVReply(%d)) = %d, %v", port, again, err)
		}
	})
}

func FuzzParseEPSVArg(f *testing.F) {
	for _, tt := range epsvArgTests {
		f.Add(tt.arg)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		a, err := ParseEPSVArg(arg)
		switch {
		case err == nil:
			if a < EPSVAny || a > EPSVAll {
				t.Fatalf("ParseEPSVArg(%q) = %d, out of range", arg, a)
			}
		case errors.Is(err, ErrBadProtocol), errors.Is(err, ErrBadHostPort):
			if a != 0 {
				t.Fatalf("ParseEPSVArg(%q) failed but returned %d", arg, a)
			}
		default:
			t.Fatalf("ParseEPSVArg(%q): unexpected error %v", arg, err)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, tt := range timeTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseTime(s)
		if err != nil {
			return
		}
		if tm.Location() != time.UTC || tm.Year() < 0 || tm.Year() > 9999 {
			t.Fatalf("ParseTime(%q) = %v", s, tm)
		}
		out := FormatTime(tm)
		want := s[:14]
		if want[12:] == "60" { // a leap second reads as 59
			want = want[:12] + "59"
		}
		if out != want {
			t.Fatalf("FormatTime(ParseTime(%q)) = %q; want the first 14 bytes back", s, out)
		}
		again, err := ParseTime(out)
		if err != nil || !again.Equal(tm.Truncate(time.Second)) {
			t.Fatalf("ParseTime(%q) = %v, %v; want %v", out, again, err, tm.Truncate(time.Second))
		}
	})
}

// entryInfo presents a parsed Entry as an fs.FileInfo, so that it can be
// formatted again.
type entryInfo struct{ e Entry }

func (fi entryInfo) Name() string       { return fi.e.Name }
func (fi entryInfo) Size() int64        { return fi.e.Size }
func (fi entryInfo) ModTime() time.Time { return fi.e.ModTime }
func (fi entryInfo) IsDir() bool        { return fi.Mode().IsDir() }

func (fi entryInfo) Mode() fs.FileMode {
	m := fi.e.Mode
	if m&fs.ModeType == 0 {
		switch fi.e.Type {
		case EntryDir:
			m |= fs.ModeDir
		case EntryLink:
			m |= fs.ModeSymlink
		case EntryOther:
			m |= fs.ModeIrregular
		}
	}
	return m
}

func (fi entryInfo) Sys() any {
	if fi.e.Target != "" {
		return linkSys(fi.e.Target)
	}
	return nil
}

func FuzzParseListLine(f *testing.F) {
	for _, tt := range listLineTests {
		f.Add(tt.line, listNow.Unix())
	}
	for _, tt := range capturedLIST {
		f.Add(tt.line, capturedNow.Unix())
	}
	f.Add("-rw-r--r-- 1 u g 1 Feb 29 12:00 leap", time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC).Unix())
	f.Add("-rw-r--r-- 1 u g 1 Jan  2 08:00 new year", time.Date(2026, 12, 30, 0, 0, 0, 0, time.UTC).Unix())
	f.Fuzz(func(t *testing.T, line string, nowUnix int64) {
		// Any now from 1970 to 2200: the year inference must hold for all.
		now := time.Unix(nowUnix%(230*365*86400), 0).UTC()
		if now.Year() < 1970 {
			now = now.AddDate(230, 0, 0)
		}
		e, err := ParseListLine(line, now)
		if err != nil {
			if !errors.Is(err, ErrBadListLine) && !errors.Is(err, ErrSkipLine) {
				t.Fatalf("ParseListLine(%q): unexpected error %v", line, err)
			}
			return
		}
		// A date may be ahead of now only when the line gives its year:
		// four digits (Unix, IIS) or two after a dash (IIS "MM-DD-YY").
		// Fields are separated by spaces or tabs, so either may follow.
		yy := fmt.Sprintf("-%02d", e.ModTime.Year()%100)
		explicitYear := strings.Contains(line, strconv.Itoa(e.ModTime.Year())) ||
			strings.Contains(line, yy+" ") || strings.Contains(line, yy+"\t")
		if e.ModTime.After(now.Add(futureSlack)) && !explicitYear {
			t.Fatalf("ParseListLine(%q, %v) guessed %v, too far ahead", line, now, e.ModTime)
		}
		if e.Name == "" || strings.ContainsAny(e.Name+e.Target, "\r\n") || e.Size < 0 || e.Facts != nil {
			t.Fatalf("ParseListLine(%q) = %+v", line, e)
		}
		// Formatting and parsing again keeps the entry and its day. A time
		// in the future is written with the year, which drops the time of
		// day; the midnight it parses back to may then be in the past and
		// written as "00:00". So the lines are fixed from the third on.
		line2 := string(AppendListLine(nil, entryInfo{e}, now))
		e2, err := ParseListLine(line2, now)
		if err != nil {
			t.Fatalf("ParseListLine(%q) (from %q): %v", line2, line, err)
		}
		y, m, d := e.ModTime.Date()
		y2, m2, d2 := e2.ModTime.Date()
		if e2.Name != e.Name || e2.Type != e.Type || e2.Size != e.Size || e2.Target != e.Target ||
			y2 != y || m2 != m || d2 != d {
			t.Fatalf("round trip of %q through %q:\n got %+v\nwant %+v", line, line2, e2, e)
		}
		line3 := string(AppendListLine(nil, entryInfo{e2}, now))
		e3, err := ParseListLine(line3, now)
		if err != nil {
			t.Fatalf("ParseListLine(%q) (from %q): %v", line3, line, err)
		}
		if line4 := string(AppendListLine(nil, entryInfo{e3}, now)); line4 != line3 {
			t.Fatalf("formatting is not a fixed point: %q, %q, %q (from %q)", line2, line3, line4, line)
		}
	})
}

func FuzzParseMLSxLine(f *testing.F) {
	for _, tt := range mlsxTests {
		f.Add(tt.line)
	}
	for _, tt := range capturedMLSD {
		f.Add(tt.line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, err := ParseMLSxLine(line)
		if err != nil {
			if !errors.Is(err, ErrBadListLine) {
				t.Fatalf("ParseMLSxLine(%q): unexpected error %v", line, err)
			}
			return
		}
		if e.Name == "" || strings.ContainsAny(e.Name, "\r\n") || e.Size < 0 || e.Facts == nil {
			t.Fatalf("ParseMLSxLine(%q) = %+v", line, e)
		}
		for k := range e.Facts {
			if k != strings.ToLower(k) {
				t.Fatalf("ParseMLSxLine(%q): fact %q not lower case", line, k)
			}
		}
		line2 := string(AppendFacts(nil, entryInfo{e}, e.Name, "", AllFacts, "r"))
		e2, err := ParseMLSxLine(line2)
		if err != nil {
			t.Fatalf("ParseMLSxLine(%q) (from %q): %v", line2, line, err)
		}
		if e2.Name != e.Name || e2.Type != e.Type || !e2.ModTime.Equal(e.ModTime.Truncate(time.Second)) ||
			e.Type != EntryDir && e2.Size != e.Size {
			t.Fatalf("round trip of %q through %q:\n got %+v\nwant %+v", line, line2, e2, e)
		}
		if _, ok := e.Facts["unix.mode"]; ok && e2.Mode != e.Mode {
			t.Fatalf("round trip of %q through %q: mode %v, want %v", line, line2, e2.Mode, e.Mode)
		}
		if line3 := string(AppendFacts(nil, entryInfo{e2}, e2.Name, "", AllFacts, "r")); line3 != line2 {
			t.Fatalf("formatting is not a fixed point: %q then %q (from %q)", line2, line3, line)
		}
	})
}
