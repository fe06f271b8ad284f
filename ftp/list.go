package ftp

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// EntryType is the kind of a directory entry as a listing reports it.
type EntryType uint8

const (
	EntryFile  EntryType = iota // a regular file
	EntryDir                    // a directory (MLSx cdir and pdir included)
	EntryLink                   // a symbolic link
	EntryOther                  // a device, pipe, socket, or a type the listing did not say
)

func (t EntryType) String() string {
	switch t {
	case EntryFile:
		return "file"
	case EntryDir:
		return "dir"
	case EntryLink:
		return "link"
	}
	return "other"
}

// Entry is one directory entry parsed from a LIST or MLSx line.
type Entry struct {
	Name    string
	Type    EntryType
	Size    int64             // 0 when the listing does not say
	ModTime time.Time         // zero when the listing does not say; UTC
	Mode    fs.FileMode       // type and permission bits; 0 if unknown
	Target  string            // a symbolic link's target, when the listing shows it
	Facts   map[string]string // MLSx facts with lower-case names; nil for LIST
}

// LinkTargeter is implemented by the Sys value of an fs.FileInfo that
// describes a symbolic link whose target the storage backend knows.
// AppendListLine then writes "name -> target" as ls -l does.
type LinkTargeter interface {
	LinkTarget() string
}

// Errors returned by ParseListLine and ParseMLSxLine.
var (
	// ErrSkipLine marks a line that is not an entry ("total 42", a blank
	// line): the caller skips it rather than failing the listing.
	ErrSkipLine = errors.New("not a directory entry")
	// ErrBadListLine marks a line in no format the parser knows.
	ErrBadListLine = errors.New("unrecognised listing line")
)

// halfYear is how old a modification time may be and still be shown with
// the time of day rather than the year, as ls does (its 6 months is 365.2425/2 days).
const halfYear = 15778476 * time.Second

// futureSlack is how far in the future ParseListLine lets a yearless date
// fall before it decides the date is from the previous year. It absorbs
// clock skew and time-zone difference between client and server.
const futureSlack = 7 * 24 * time.Hour

const months = "JanFebMarAprMayJunJulAugSepOctNovDec"

// AppendListLine appends the ls -l style line for fi, ending in CRLF, in
// the form every client's LIST parser knows:
//
//	-rw-r--r-- 1 ftp ftp         1234 Nov 24 13:05 name
//
// Owner and group are always "ftp" and the link count 1: the real ones
// would tell a stranger about the server's accounts. The date is shown in
// now's location, with the time of day if it lies within the last six
// months and with the year otherwise, as ls does. The name is written as
// is, except that CR and LF become '?': a name must not be able to end the
// line and forge another entry. It does not allocate if dst has room.
func AppendListLine(dst []byte, fi fs.FileInfo, now time.Time) []byte {
	mode := fi.Mode()
	dst = appendModeString(dst, mode)
	dst = append(dst, " 1 ftp ftp "...)
	size := fi.Size()
	if mode&(fs.ModeDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0 || size < 0 {
		size = 0
	}
	dst = appendPadded(dst, size, 12)
	dst = append(dst, ' ')

	t := fi.ModTime().In(now.Location())
	year, month, day := t.Date()
	dst = append(dst, months[3*(month-1):3*month]...)
	dst = append(dst, ' ')
	dst = appendPadded(dst, int64(day), 2)
	if t.After(now) || now.Sub(t) > halfYear {
		dst = append(dst, "  "...)
		if year < 0 || year > 9999 {
			year = 0
		}
		dst = appendDigits(dst, year, 4)
	} else {
		hour, min, _ := t.Clock()
		dst = append(dst, ' ')
		dst = appendDigits(dst, hour, 2)
		dst = append(dst, ':')
		dst = appendDigits(dst, min, 2)
	}
	dst = append(dst, ' ')
	dst = appendName(dst, fi.Name())
	if mode&fs.ModeSymlink != 0 {
		if lt, ok := fi.Sys().(LinkTargeter); ok {
			if target := lt.LinkTarget(); target != "" {
				dst = append(dst, " -> "...)
				dst = appendName(dst, target)
			}
		}
	}
	return append(dst, "\r\n"...)
}

// AppendNameLine appends name and CRLF: one line of an NLST listing.
// CR and LF in name become '?', as in AppendListLine.
func AppendNameLine(dst []byte, name string) []byte {
	return append(appendName(dst, name), "\r\n"...)
}

// appendName appends name with CR and LF replaced by '?'. A plain loop:
// strings.IndexAny builds a byte set on every call, and names are short.
func appendName(dst []byte, name string) []byte {
	start := 0
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '\r' || c == '\n' {
			dst = append(dst, name[start:i]...)
			dst = append(dst, '?')
			start = i + 1
		}
	}
	return append(dst, name[start:]...)
}

// appendPadded appends v right-aligned in width columns.
func appendPadded(dst []byte, v int64, width int) []byte {
	var b [20]byte
	s := strconv.AppendInt(b[:0], v, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, ' ')
	}
	return append(dst, s...)
}

// appendModeString appends the ten-character ls mode string, e.g.
// "drwxr-xr-x". fs.FileMode.String differs (it writes "dtrwx..." and
// allocates), so ls's own rules are spelled out here.
func appendModeString(dst []byte, m fs.FileMode) []byte {
	var c byte
	switch {
	case m&fs.ModeDir != 0:
		c = 'd'
	case m&fs.ModeSymlink != 0:
		c = 'l'
	case m&fs.ModeNamedPipe != 0:
		c = 'p'
	case m&fs.ModeSocket != 0:
		c = 's'
	case m&fs.ModeCharDevice != 0:
		c = 'c'
	case m&fs.ModeDevice != 0:
		c = 'b'
	case m&fs.ModeIrregular != 0:
		c = '?'
	default:
		c = '-'
	}
	dst = append(dst, c)
	const rwx = "rwxrwxrwx"
	var p [9]byte
	for i := range p {
		if m&(1<<uint(8-i)) != 0 {
			p[i] = rwx[i]
		} else {
			p[i] = '-'
		}
	}
	special := func(set bool, i int, lower, upper byte) {
		if !set {
			return
		}
		if p[i] == 'x' {
			p[i] = lower
		} else {
			p[i] = upper
		}
	}
	special(m&fs.ModeSetuid != 0, 2, 's', 'S')
	special(m&fs.ModeSetgid != 0, 5, 's', 'S')
	special(m&fs.ModeSticky != 0, 8, 't', 'T')
	return append(dst, p[:]...)
}

// parseModeString is the inverse of appendModeString. It accepts the
// ten-character form with an optional ACL or extended-attribute marker
// ('+', '@', '.') after it, and the type letters of other Unix systems.
func parseModeString(s string) (fs.FileMode, EntryType, bool) {
	if len(s) == 11 && strings.IndexByte("+@.", s[10]) >= 0 {
		s = s[:10]
	}
	if len(s) != 10 {
		return 0, 0, false
	}
	var m fs.FileMode
	t := EntryOther
	switch s[0] {
	case '-':
		t = EntryFile
	case 'd':
		m, t = fs.ModeDir, EntryDir
	case 'l':
		m, t = fs.ModeSymlink, EntryLink
	case 'p':
		m = fs.ModeNamedPipe
	case 's':
		m = fs.ModeSocket
	case 'c':
		m = fs.ModeDevice | fs.ModeCharDevice
	case 'b':
		m = fs.ModeDevice
	case 'D', 'n', '?': // Solaris door, HP-UX network special, unknown
		m = fs.ModeIrregular
	default:
		return 0, 0, false
	}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		c := s[1+i]
		switch {
		case c == '-':
		case c == rwx[i]:
			m |= 1 << uint(8-i)
		case i%3 == 2 && (c == 's' || c == 't' || c == 'S' || c == 'T'):
			if c == 's' || c == 't' {
				m |= 1 << uint(8-i)
			}
			switch {
			case i == 2 && (c == 's' || c == 'S'):
				m |= fs.ModeSetuid
			case i == 5 && (c == 's' || c == 'S'):
				m |= fs.ModeSetgid
			case i == 8 && (c == 't' || c == 'T'):
				m |= fs.ModeSticky
			default:
				return 0, 0, false
			}
		default:
			return 0, 0, false
		}
	}
	return m, t, true
}

// ParseListLine parses one line of a LIST reply. It knows the Unix ls -l
// forms (with or without the group column, numeric owners, device numbers
// in place of the size, "name -> target" for links, the year or the time
// of day) and the DOS form of IIS and other Windows servers. A "total N"
// or blank line returns ErrSkipLine; anything else it cannot read returns
// an error wrapping ErrBadListLine.
//
// Listings carry no time zone; the time is returned as if it were UTC.
// A date without a year gets the latest year that does not put it more
// than a few days after now.
func ParseListLine(line string, now time.Time) (Entry, error) {
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	line = strings.TrimLeft(line, " \t")
	if line == "" || strings.HasPrefix(line, "total ") && isNumber(strings.TrimSpace(line[6:])) {
		return Entry{}, ErrSkipLine
	}
	if strings.ContainsAny(line, "\r\n") {
		return Entry{}, fmt.Errorf("%w: CR or LF inside", ErrBadListLine)
	}
	var e Entry
	var err error
	if isDigit(line[0]) {
		e, err = parseDOSLine(line)
	} else {
		e, err = parseUnixLine(line, now)
	}
	if err != nil {
		return Entry{}, err
	}
	return e, nil
}

// field is a run of non-blank characters of a line and where it ends.
type field struct {
	s   string
	end int
}

// maxUnixFields bounds the fields looked at before the name: mode, links,
// owner, group, size or major and minor, month, day, time, and a few spare.
const maxUnixFields = 12

// nextField returns the next blank-separated field of line at or after i.
func nextField(line string, i int) (field, bool) {
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	j := i
	for j < len(line) && line[j] != ' ' && line[j] != '\t' {
		j++
	}
	if i == j {
		return field{}, false
	}
	return field{line[i:j], j}, true
}

func parseUnixLine(line string, now time.Time) (Entry, error) {
	var fields [maxUnixFields]field
	n := 0
	for pos := 0; n < len(fields); n++ {
		f, ok := nextField(line, pos)
		if !ok {
			break
		}
		fields[n] = f
		pos = f.end
	}
	mode, typ, ok := parseModeString(fields[0].s)
	if !ok {
		return Entry{}, fmt.Errorf("%w: bad mode %q", ErrBadListLine, fields[0].s)
	}
	// Find the date: "Mon DD HH:MM" or "Mon DD YYYY", after at least the
	// link count (or owner) and the size; the size is the field before it.
	for k := 2; k+2 < n; k++ {
		mon := monthIndex(fields[k].s)
		if mon == 0 {
			continue
		}
		size, ok := parseSize(fields[k-1].s)
		if !ok && mode&fs.ModeDevice != 0 {
			// "major,minor" written without a blank.
			major, minor, found := strings.Cut(fields[k-1].s, ",")
			ok = found && isNumber(major) && isNumber(minor)
		}
		if !ok {
			continue
		}
		mt, ok := parseLsDate(mon, fields[k+1].s, fields[k+2].s, now)
		if !ok {
			continue
		}
		rest := line[fields[k+2].end:]
		if len(rest) < 2 || rest[0] != ' ' && rest[0] != '\t' {
			return Entry{}, fmt.Errorf("%w: no name", ErrBadListLine)
		}
		name := rest[1:]
		e := Entry{Name: name, Type: typ, Size: size, ModTime: mt, Mode: mode}
		if mode&(fs.ModeDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0 {
			e.Size = 0 // the "size" is a minor device number
		}
		if typ == EntryLink {
			if name, target, ok := strings.Cut(name, " -> "); ok {
				e.Name, e.Target = name, target
			}
		}
		if e.Name == "" {
			return Entry{}, fmt.Errorf("%w: no name", ErrBadListLine)
		}
		return e, nil
	}
	return Entry{}, fmt.Errorf("%w: no date", ErrBadListLine)
}

// monthIndex returns 1-12 for an English month abbreviation, any case, or 0.
func monthIndex(s string) int {
	if len(s) != 3 {
		return 0
	}
	for i := 0; i < 12; i++ {
		if strings.EqualFold(s, months[3*i:3*i+3]) {
			return i + 1
		}
	}
	return 0
}

// parseSize parses a size field: decimal digits that fit an int64.
func parseSize(s string) (int64, bool) {
	if !isNumber(s) {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// parseLsDate turns ls's day and "HH:MM" or "YYYY" into a time.
func parseLsDate(month int, dayField, timeOrYear string, now time.Time) (time.Time, bool) {
	if !isNumber(dayField) || len(dayField) > 2 {
		return time.Time{}, false
	}
	day := atoiDigits(dayField)
	if day < 1 || day > 31 {
		return time.Time{}, false
	}
	if len(timeOrYear) == 4 && isNumber(timeOrYear) {
		year := atoiDigits(timeOrYear)
		if day > daysIn(time.Month(month), year) {
			return time.Time{}, false
		}
		return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC), true
	}
	hour, min, ok := parseClock(timeOrYear)
	if !ok {
		return time.Time{}, false
	}
	// The latest year that keeps the date at most futureSlack after now
	// and exists in that year (29 February). Going back eight years covers
	// the longest run of years without a 29 February (1897-1903).
	limit := now.Add(futureSlack)
	for year := now.Year() + 1; year >= now.Year()-8; year-- {
		if day > daysIn(time.Month(month), year) {
			continue
		}
		t := time.Date(year, time.Month(month), day, hour, min, 0, 0, time.UTC)
		if !t.After(limit) {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseClock parses "H:MM" or "HH:MM" in 24-hour form.
func parseClock(s string) (hour, min int, ok bool) {
	h, m, found := strings.Cut(s, ":")
	if !found || len(h) < 1 || len(h) > 2 || len(m) != 2 || !isNumber(h) || !isNumber(m) {
		return 0, 0, false
	}
	hour, min = atoiDigits(h), atoiDigits(m)
	return hour, min, hour < 24 && min < 60
}

// parseDOSLine parses the form of IIS and other Windows servers:
//
//	11-24-26  01:05PM       <DIR>          name
//	11-24-2026  13:05                 1234 name
func parseDOSLine(line string) (Entry, error) {
	bad := func(why string) (Entry, error) {
		return Entry{}, fmt.Errorf("%w: %s", ErrBadListLine, why)
	}
	date, ok := nextField(line, 0)
	if !ok {
		return bad("no date")
	}
	clock, ok := nextField(line, date.end)
	if !ok {
		return bad("no time")
	}
	kind, ok := nextField(line, clock.end)
	if !ok {
		return bad("no size")
	}
	// MM-DD-YY or MM-DD-YYYY.
	mm, rest, _ := strings.Cut(date.s, "-")
	dd, yy, _ := strings.Cut(rest, "-")
	if len(mm) != 2 || len(dd) != 2 || (len(yy) != 2 && len(yy) != 4) ||
		!isNumber(mm) || !isNumber(dd) || !isNumber(yy) {
		return bad("bad date " + strconv.Quote(date.s))
	}
	month, day, year := atoiDigits(mm), atoiDigits(dd), atoiDigits(yy)
	if len(yy) == 2 {
		// The POSIX strptime pivot: 69-99 are 19xx, 00-68 are 20xx.
		if year < 69 {
			year += 2000
		} else {
			year += 1900
		}
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) {
		return bad("bad date " + strconv.Quote(date.s))
	}
	c := clock.s
	pm, am := strings.HasSuffix(strings.ToUpper(c), "PM"), strings.HasSuffix(strings.ToUpper(c), "AM")
	if pm || am {
		c = c[:len(c)-2]
	}
	hour, min, ok := parseClock(c)
	if !ok {
		return bad("bad time " + strconv.Quote(clock.s))
	}
	if pm || am {
		if hour < 1 || hour > 12 {
			return bad("bad time " + strconv.Quote(clock.s))
		}
		hour %= 12
		if pm {
			hour += 12
		}
	}
	e := Entry{ModTime: time.Date(year, time.Month(month), day, hour, min, 0, 0, time.UTC)}
	if strings.EqualFold(kind.s, "<DIR>") {
		e.Type = EntryDir
	} else {
		size, ok := parseSize(kind.s)
		if !ok {
			return bad("bad size " + strconv.Quote(kind.s))
		}
		e.Type, e.Size = EntryFile, size
	}
	// The name starts after the blanks that pad the size column.
	i := kind.end
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i == len(line) || i == kind.end {
		return bad("no name")
	}
	e.Name = line[i:]
	return e, nil
}

// isNumber reports whether s is a non-empty run of ASCII digits.
func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
