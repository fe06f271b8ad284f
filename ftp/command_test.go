package ftp

import (
	"errors"
	"strings"
	"testing"
)

var commandTests = []struct {
	line string
	want Command
	err  error
}{
	{"USER anonymous\r\n", Command{"USER", "anonymous"}, nil},
	{"user anonymous\n", Command{"USER", "anonymous"}, nil},
	{"pAsV\r\n", Command{"PASV", ""}, nil},
	{"NOOP", Command{"NOOP", ""}, nil},
	{"  NOOP\r\n", Command{"NOOP", ""}, nil},
	{"RETR  leading space\r\n", Command{"RETR", " leading space"}, nil},
	{"STOR trailing space \r\n", Command{"STOR", "trailing space "}, nil},
	{"STOR a b  c\r\n", Command{"STOR", "a b  c"}, nil},
	// RFC 2640 3.1: a CR in a pathname comes as CR NUL.
	{"RETR cr\r\x00name\r\n", Command{"RETR", "cr\rname"}, nil},
	{"CWD end\r\x00\r\n", Command{"CWD", "end\r"}, nil},
	{"RETR bare\rcr\r\n", Command{}, ErrBadChars},
	{"RETR nul\x00\r\n", Command{}, ErrBadChars},
	{"NO\r\x00OP\r\n", Command{}, ErrBadVerb},
	{"RETR \r\n", Command{"RETR", ""}, nil},
	{"MLST \xe6\x97\xa5\xe6\x9c\xac.txt\r\n", Command{"MLST", "\xe6\x97\xa5\xe6\x9c\xac.txt"}, nil},
	{"SITE CHMOD 644 x", Command{"SITE", "CHMOD 644 x"}, nil},
	{"", Command{}, ErrEmptyCommand},
	{"\r\n", Command{}, ErrEmptyCommand},
	{"   \r\n", Command{}, ErrEmptyCommand},
	{"RETR a\rDELE b\r\n", Command{}, ErrBadChars},
	{"RETR a\nDELE b\r\n", Command{}, ErrBadChars},
	{"RETR a\x00b\r\n", Command{}, ErrBadChars},
	{"RETR a\r\r\n", Command{}, ErrBadChars},
	{"RETR a\n\n", Command{}, ErrBadChars},
	{"ABCDEFGHI x\r\n", Command{}, ErrBadVerb},
	{"ABCDEFGH x\r\n", Command{"ABCDEFGH", "x"}, nil},
	{"RE1R x\r\n", Command{Verb: "RE1R", Arg: "x"}, nil}, // unknown, but well formed: 500 from the table
	{"XMD5 f\r\n", Command{Verb: "XMD5", Arg: "f"}, nil},
	{"1RET x\r\n", Command{}, ErrBadVerb},
	{"\xffRETR x\r\n", Command{}, ErrBadVerb},
	{"\tRETR x\r\n", Command{}, ErrBadVerb},
}

func TestParseCommand(t *testing.T) {
	for _, tt := range commandTests {
		got, err := ParseCommand(tt.line)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v, %v", tt.line, got, err, tt.want, tt.err)
		}
	}
}

func TestCommandString(t *testing.T) {
	for _, c := range []Command{{"NOOP", ""}, {"RETR", " a "}, {"SITE", "CHMOD 644 x"}} {
		got, err := ParseCommand(c.String() + "\r\n")
		if err != nil || got != c {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", c.String(), got, err, c)
		}
	}
}

func TestValidArg(t *testing.T) {
	for s, want := range map[string]bool{"": true, "a b": true, "a\rb": false, "a\n": false, "\x00": false, "日本": true} {
		if got := ValidArg(s); got != want {
			t.Errorf("ValidArg(%q) = %v, want %v", s, got, want)
		}
	}
}

func BenchmarkParseCommand(b *testing.B) {
	line := "RETR some/directory/file name.tar.gz\r\n"
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		c, err := ParseCommand(line)
		if err != nil || c.Verb != "RETR" {
			b.Fatal(c, err)
		}
	}
}

// A long line must be refused or parsed in time linear in its length; this
// only checks that a 1 MiB argument survives whole.
func TestParseCommandLongArg(t *testing.T) {
	arg := strings.Repeat("x", 1<<20)
	c, err := ParseCommand("STOR " + arg + "\r\n")
	if err != nil || c.Arg != arg {
		t.Fatalf("ParseCommand(1 MiB arg): err %v, len(arg) %d", err, len(c.Arg))
	}
}
