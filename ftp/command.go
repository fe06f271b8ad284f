package ftp

import (
	"errors"
	"strings"
)

// MaxVerbLen bounds a command verb. RFC 959 verbs have 3 or 4 letters;
// extensions in use (MLST, OPTS, XCUP, ...) stay within that, but a few
// servers accept longer site-specific verbs, so allow some slack.
const MaxVerbLen = 8

// Command is one parsed command line: an upper-case verb and the raw
// argument, which keeps its spaces (file names may begin or end with one).
type Command struct {
	Verb string
	Arg  string
}

// String returns the command as it goes on the wire, without CRLF: a CR
// in the argument as CR NUL (RFC 2640 3.1).
func (c Command) String() string {
	if c.Arg == "" {
		return c.Verb
	}
	return c.Verb + " " + EncodePath(c.Arg)
}

// Errors returned by ParseCommand.
var (
	ErrEmptyCommand = errors.New("empty command")
	ErrBadVerb      = errors.New("malformed command verb")
	ErrBadChars     = errors.New("CR, LF or NUL inside a command line")
)

// ParseCommand parses one command line. A trailing CRLF (or a bare LF, as
// some clients send) is removed first. A CR that is part of a pathname
// comes as CR NUL (RFC 2640 3.1) and is decoded to CR in the argument;
// any other CR, LF or NUL is refused, since it would let a file name
// smuggle a second command into a log line or a reply. The verb is
// case-insensitive (RFC 959 5.3) and made upper case.
func ParseCommand(line string) (Command, error) {
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if strings.ContainsAny(strings.ReplaceAll(line, "\r\x00", ""), "\r\n\x00") {
		return Command{}, ErrBadChars
	}
	if strings.Contains(line, "\r\x00") {
		line = strings.ReplaceAll(line, "\r\x00", "\r")
	}
	// Some clients send leading spaces; none are part of a verb.
	line = strings.TrimLeft(line, " ")
	if line == "" {
		return Command{}, ErrEmptyCommand
	}
	verb, arg, _ := strings.Cut(line, " ")
	if len(verb) > MaxVerbLen {
		return Command{}, ErrBadVerb
	}
	// Letters, then letters or digits: extensions such as XMD5 and
	// XSHA256 must reach the verb table (and get 502), not be called
	// malformed.
	for i := 0; i < len(verb); i++ {
		c := verb[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return Command{}, ErrBadVerb
		}
	}
	return Command{Verb: strings.ToUpper(verb), Arg: arg}, nil
}

// EncodePath writes a pathname for the control connection: a CR in it
// becomes CR NUL (RFC 2640 3.1), so that it cannot end the line. A
// pathname never holds LF there (nothing could send one).
func EncodePath(p string) string {
	return strings.ReplaceAll(p, "\r", "\r\x00")
}

// ValidArg reports whether s can be sent as a command argument: no CR, LF
// or NUL. The client checks every argument with it before writing.
func ValidArg(s string) bool {
	return !strings.ContainsAny(s, "\r\n\x00")
}
