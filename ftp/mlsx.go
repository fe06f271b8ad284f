package ftp

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"syscall"
)

// Facts is a set of RFC 3659 facts that MLST and MLSD report.
type Facts uint8

const (
	FactType     Facts = 1 << iota // type: file, dir, cdir, pdir, OS.unix=...
	FactSize                       // size: octets
	FactModify                     // modify: last modification time-val
	FactPerm                       // perm: what the user may do (RFC 3659 7.5.5)
	FactUnixMode                   // unix.mode: octal permission bits
	FactUnique                     // unique: an identifier that stays with the file

	// AllFacts is every fact ferry can report, the default set.
	AllFacts = FactType | FactSize | FactModify | FactPerm | FactUnixMode | FactUnique
)

// factNames is in the order facts are written, which is also bit order.
var factNames = [...]string{"type", "size", "modify", "perm", "unix.mode", "unique"}

// ParseFactList parses the argument of "OPTS MLST", e.g. "type;size;".
// Fact names are case-insensitive; unknown ones are ignored, as RFC 3659
// section 7.9 asks, so the result is the facts the server will report.
// An empty list selects none.
func ParseFactList(s string) Facts {
	var f Facts
	for s != "" {
		var name string
		name, s, _ = strings.Cut(s, ";")
		name = strings.TrimSpace(name)
		for i, n := range factNames {
			if strings.EqualFold(name, n) {
				f |= 1 << uint(i)
			}
		}
	}
	return f
}

// String returns the facts as an OPTS MLST reply lists them: "type;size;".
func (f Facts) String() string {
	var b strings.Builder
	for i, n := range factNames {
		if f&(1<<uint(i)) != 0 {
			b.WriteString(n)
			b.WriteByte(';')
		}
	}
	return b.String()
}

// Feature returns the FEAT line for MLST: every fact ferry supports, the
// enabled ones starred, e.g. "MLST type*;size*;modify*;perm;unix.mode;unique;".
func (f Facts) Feature() string {
	var b strings.Builder
	b.WriteString("MLST ")
	for i, n := range factNames {
		b.WriteString(n)
		if f&(1<<uint(i)) != 0 {
			b.WriteByte('*')
		}
		b.WriteByte(';')
	}
	return b.String()
}

// AppendFacts appends one MLSD line (or the body of an MLST reply line)
// for fi under name, ending in CRLF:
//
//	type=file;size=12;modify=20261124130500;perm=r;unix.mode=0644;unique=803U1f2c; name
//
// Only the enabled facts are written. kind, when not empty, is the type
// fact ("cdir", "pdir"); otherwise fi's mode says. perm is the perm fact,
// which only the server can compute; empty omits it. The unique fact is
// the device and inode, present only when fi.Sys() is a *syscall.Stat_t.
// CR and LF in name become '?'. It does not allocate if dst has room.
func AppendFacts(dst []byte, fi fs.FileInfo, name string, kind string, enabled Facts, perm string) []byte {
	mode := fi.Mode()
	if enabled&FactType != 0 {
		dst = append(dst, "type="...)
		if kind != "" {
			dst = append(dst, kind...)
		} else {
			dst = append(dst, typeFact(mode)...)
		}
		dst = append(dst, ';')
	}
	// A directory's size says nothing about its contents; RFC 3659 7.5.7
	// leaves it to the server, and clients sum sizes of "size" facts.
	if enabled&FactSize != 0 && !mode.IsDir() {
		dst = append(dst, "size="...)
		dst = strconv.AppendInt(dst, max(fi.Size(), 0), 10)
		dst = append(dst, ';')
	}
	if enabled&FactModify != 0 {
		dst = append(dst, "modify="...)
		dst = AppendTime(dst, fi.ModTime())
		dst = append(dst, ';')
	}
	if enabled&FactPerm != 0 && perm != "" {
		dst = append(dst, "perm="...)
		dst = append(dst, perm...)
		dst = append(dst, ';')
	}
	if enabled&FactUnixMode != 0 {
		dst = append(dst, "unix.mode="...)
		dst = appendOctalMode(dst, mode)
		dst = append(dst, ';')
	}
	if enabled&FactUnique != 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st != nil {
			dst = append(dst, "unique="...)
			dst = strconv.AppendUint(dst, uint64(st.Dev), 16)
			dst = append(dst, 'U')
			dst = strconv.AppendUint(dst, uint64(st.Ino), 16)
			dst = append(dst, ';')
		}
	}
	dst = append(dst, ' ')
	return append(appendName(dst, name), "\r\n"...)
}

// typeFact returns the type fact for mode. RFC 3659 names only file and
// dir; the rest use the "OS.unix=" form that ProFTPD and Pure-FTPd send.
func typeFact(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "dir"
	case mode.IsRegular():
		return "file"
	case mode&fs.ModeSymlink != 0:
		return "OS.unix=slink"
	case mode&fs.ModeNamedPipe != 0:
		return "OS.unix=fifo"
	case mode&fs.ModeSocket != 0:
		return "OS.unix=socket"
	case mode&fs.ModeCharDevice != 0:
		return "OS.unix=chr"
	case mode&fs.ModeDevice != 0:
		return "OS.unix=blk"
	}
	return "OS.unix=unknown"
}

// appendOctalMode appends the permission and setuid/setgid/sticky bits
// as four octal digits, e.g. "0644" or "4755".
func appendOctalMode(dst []byte, mode fs.FileMode) []byte {
	v := uint32(mode.Perm())
	if mode&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if mode&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if mode&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return append(dst, byte('0'+v>>9&7), byte('0'+v>>6&7), byte('0'+v>>3&7), byte('0'+v&7))
}

// ParseMLSxLine parses one line of an MLSD listing: facts, a space, the
// name. For the entry line of an MLST reply, remove the single leading
// space the control connection adds first. Fact names are returned lower
// case in Entry.Facts with their values as sent; Type, Size, ModTime,
// Mode and Target are filled from type, size (or sizd), modify and
// unix.mode. A fact the parser cannot read is an error only if it is one
// of those; anything else a server invents is passed through.
func ParseMLSxLine(line string) (Entry, error) {
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	facts, name, ok := strings.Cut(line, " ")
	if !ok || name == "" {
		return Entry{}, fmt.Errorf("%w: no name in MLSx line", ErrBadListLine)
	}
	if strings.ContainsAny(line, "\r\n") {
		return Entry{}, fmt.Errorf("%w: CR or LF inside", ErrBadListLine)
	}
	e := Entry{Name: name, Type: EntryOther, Facts: make(map[string]string)}
	for facts != "" {
		var fact string
		fact, facts, _ = strings.Cut(facts, ";")
		if fact == "" {
			continue
		}
		k, v, ok := strings.Cut(fact, "=")
		if !ok || k == "" {
			return Entry{}, fmt.Errorf("%w: bad fact %q", ErrBadListLine, fact)
		}
		e.Facts[strings.ToLower(k)] = v
	}
	if v, ok := e.Facts["type"]; ok {
		e.Type, e.Target = parseTypeFact(v)
	}
	size, ok := e.Facts["size"]
	if !ok {
		size, ok = e.Facts["sizd"]
	}
	if ok {
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil || n < 0 || !isNumber(size) {
			return Entry{}, fmt.Errorf("%w: bad size %q", ErrBadListLine, size)
		}
		e.Size = n
	}
	if v, ok := e.Facts["modify"]; ok {
		t, err := ParseTime(v)
		if err != nil {
			return Entry{}, fmt.Errorf("%w: bad modify %q", ErrBadListLine, v)
		}
		e.ModTime = t
	}
	if v, ok := e.Facts["unix.mode"]; ok {
		m, err := strconv.ParseUint(v, 8, 32)
		if err != nil || m > 0o7777 || !isNumber(v) {
			return Entry{}, fmt.Errorf("%w: bad unix.mode %q", ErrBadListLine, v)
		}
		e.Mode = fs.FileMode(m & 0o777)
		if m&0o4000 != 0 {
			e.Mode |= fs.ModeSetuid
		}
		if m&0o2000 != 0 {
			e.Mode |= fs.ModeSetgid
		}
		if m&0o1000 != 0 {
			e.Mode |= fs.ModeSticky
		}
		switch e.Type {
		case EntryDir:
			e.Mode |= fs.ModeDir
		case EntryLink:
			e.Mode |= fs.ModeSymlink
		case EntryOther:
			e.Mode |= fs.ModeIrregular
		}
	}
	return e, nil
}

// parseTypeFact maps a type fact to an EntryType and, for the
// "OS.unix=slink:/target" form some servers send, the link's target.
func parseTypeFact(v string) (EntryType, string) {
	switch strings.ToLower(v) {
	case "file":
		return EntryFile, ""
	case "dir", "cdir", "pdir":
		return EntryDir, ""
	}
	os, sub, ok := strings.Cut(v, "=")
	if !ok || !strings.EqualFold(os, "OS.unix") {
		return EntryOther, ""
	}
	kind, target, _ := strings.Cut(sub, ":")
	switch strings.ToLower(kind) {
	case "slink", "symlink", "link":
		return EntryLink, target
	}
	return EntryOther, ""
}
