package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// netrcEntry is one machine (or default) of a .netrc file.
type netrcEntry struct {
	Machine     string // "" for default
	Login       string
	Password    string
	HasPassword bool
}

// lookupNetrc finds the entry for host (and user, if not "") in $NETRC
// or ~/.netrc; a missing file is no entry.
func lookupNetrc(host, user string) (netrcEntry, bool, error) {
	file := os.Getenv("NETRC")
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return netrcEntry{}, false, nil
		}
		file = filepath.Join(home, ".netrc")
	}
	fh, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return netrcEntry{}, false, nil
	}
	if err != nil {
		return netrcEntry{}, false, fmt.Errorf("netrc: %w", err)
	}
	defer fh.Close()
	entries, err := parseNetrc(io.LimitReader(fh, 1<<20))
	if err != nil {
		return netrcEntry{}, false, fmt.Errorf("netrc %s: %w", file, err)
	}
	e, ok := matchNetrc(entries, host, user)
	return e, ok, nil
}

// matchNetrc picks the first machine entry for host whose login is user
// (any login if user is ""), else the default entry under the same rule.
func matchNetrc(entries []netrcEntry, host, user string) (netrcEntry, bool) {
	for _, want := range []string{host, ""} {
		for _, e := range entries {
			if strings.EqualFold(e.Machine, want) && (user == "" || e.Login == user) {
				if want == "" && e.Login == "" && user == "" {
					continue // a default without login says nothing
				}
				return e, true
			}
		}
	}
	return netrcEntry{}, false
}

// parseNetrc reads the tokens of a .netrc file: machine, default,
// login, password, account; macdef bodies (up to an empty line) are
// skipped. Tokens may be double-quoted with backslash escapes.
func parseNetrc(r io.Reader) ([]netrcEntry, error) {
	var entries []netrcEntry
	var cur *netrcEntry
	sc := bufio.NewScanner(r)
	inMacro := false
	for sc.Scan() {
		line := sc.Text()
		if inMacro {
			if strings.TrimSpace(line) == "" {
				inMacro = false
			}
			continue
		}
		toks, err := netrcTokens(line)
		if err != nil {
			return nil, err
		}
		for i := 0; i < len(toks); i++ {
			next := func() (string, error) {
				if i+1 >= len(toks) {
					return "", fmt.Errorf("%q needs a value", toks[i])
				}
				i++
				return toks[i], nil
			}
			switch toks[i] {
			case "machine":
				v, err := next()
				if err != nil {
					return nil, err
				}
				entries = append(entries, netrcEntry{Machine: v})
				cur = &entries[len(entries)-1]
			case "default":
				entries = append(entries, netrcEntry{})
				cur = &entries[len(entries)-1]
			case "login", "password", "account":
				key := toks[i]
				v, err := next()
				if err != nil {
					return nil, err
				}
				if cur == nil {
					return nil, fmt.Errorf("%q before any machine", key)
				}
				switch key {
				case "login":
					cur.Login = v
				case "password":
					cur.Password, cur.HasPassword = v, true
				}
			case "macdef":
				inMacro = true
				i = len(toks)
			default:
				if strings.HasPrefix(toks[i], "#") {
					i = len(toks)
					continue
				}
				return nil, fmt.Errorf("unknown token %q", toks[i])
			}
		}
	}
	return entries, sc.Err()
}

func netrcTokens(line string) ([]string, error) {
	var toks []string
	for {
		line = strings.TrimLeft(line, " \t\r")
		if line == "" {
			return toks, nil
		}
		if line[0] != '"' {
			end := strings.IndexAny(line, " \t\r")
			if end < 0 {
				end = len(line)
			}
			toks = append(toks, line[:end])
			line = line[end:]
			continue
		}
		var b strings.Builder
		i := 1
		for ; i < len(line) && line[i] != '"'; i++ {
			if line[i] == '\\' && i+1 < len(line) {
				i++
			}
			b.WriteByte(line[i])
		}
		if i >= len(line) {
			return nil, errors.New("unterminated quoted token")
		}
		toks = append(toks, b.String())
		line = line[i+1:]
	}
}
