package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/peterh/liner"

	"github.com/ferry-ftp/ferry/ftp"
)

// The terminal side of the shell: line editing and history (liner), and
// TAB completion of command names and of remote and local paths.

// dirCache keeps remote directory listings for completion, by absolute
// path, until a command that may change a directory runs (put, delete,
// rename, ...), or the session changes.
type dirCache struct {
	dirs map[string][]ftp.Entry
}

func (c *dirCache) get(dir string) ([]ftp.Entry, bool) {
	e, ok := c.dirs[dir]
	return e, ok
}

func (c *dirCache) put(dir string, entries []ftp.Entry) {
	if c.dirs == nil {
		c.dirs = map[string][]ftp.Entry{}
	}
	c.dirs[dir] = entries
}

func (c *dirCache) clear() { c.dirs = nil }

// absRemote makes a remote directory absolute against the working one.
func (sh *shell) absRemote(dir string) string {
	if strings.HasPrefix(dir, "/") {
		return path.Clean(dir)
	}
	return path.Join("/", sh.cwd, dir)
}

// linerReader reads commands from a terminal with liner.
type linerReader struct {
	st      *liner.State
	history string // file; "" keeps the history in memory only
}

// newLinerReader takes over the terminal on os.Stdin and os.Stdout.
// ctx bounds the listings that completion makes.
func newLinerReader(ctx context.Context, sh *shell, history string) *linerReader {
	st := liner.NewLiner()
	st.SetCtrlCAborts(true)
	st.SetTabCompletionStyle(liner.TabPrints)
	st.SetWordCompleter(func(line string, pos int) (string, []string, string) {
		return sh.complete(ctx, line, pos)
	})
	r := &linerReader{st: st, history: history}
	if history != "" {
		if f, err := os.Open(history); err == nil {
			st.ReadHistory(io.LimitReader(f, 1<<20))
			f.Close()
		}
	}
	return r
}

func (r *linerReader) line(prompt string) (string, error) {
	for {
		s, err := r.st.Prompt(prompt)
		if errors.Is(err, liner.ErrPromptAborted) {
			continue // Ctrl-C drops the line, as in a shell
		}
		if errors.Is(err, io.EOF) {
			fmt.Println() // Ctrl-D: end the prompt's line, as a shell does
		}
		if err != nil {
			return "", err
		}
		if h := historyLine(s); h != "" {
			r.st.AppendHistory(h)
		}
		return s, nil
	}
}

func (r *linerReader) password(prompt string) (string, error) {
	return r.st.PasswordPrompt(prompt)
}

func (r *linerReader) close() {
	if r.history != "" {
		if f, err := os.OpenFile(r.history, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err == nil {
			r.st.WriteHistory(f)
			f.Close()
		}
	}
	r.st.Close()
}

// historyLine is what history keeps of a command line: no password
// (user's second argument, a URL's), nothing for a blank line.
func historyLine(s string) string {
	s = strings.TrimSpace(s)
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return s
	}
	c, ok := lookupCommand(fields[0])
	if !ok {
		return s
	}
	switch c.name {
	case "user":
		// The name alone; a line that does not split (an apostrophe in
		// the password) keeps only the command.
		words, err := splitWords(strings.TrimSpace(s[len(fields[0]):]))
		switch {
		case err != nil:
			return fields[0]
		case len(words) > 1:
			return fields[0] + " " + quoteWord(words[0])
		}
	case "open":
		return fields[0] + " " + redact(strings.Join(fields[1:], " "))
	}
	return s
}

// complete is liner's word completer: command names for the first
// word; for the others, what the command's arguments name.
func (sh *shell) complete(ctx context.Context, line string, pos int) (head string, completions []string, tail string) {
	runes := []rune(line)
	if pos > len(runes) {
		pos = len(runes)
	}
	before, tail := string(runes[:pos]), string(runes[pos:])
	i := wordStart(before)
	head, word := before[:i], before[i:]
	first := strings.Fields(head)
	if len(first) == 0 {
		return head, commandNames(word), tail
	}
	c, ok := lookupCommand(first[0])
	if !ok {
		return head, nil, tail
	}
	switch c.args {
	case argCommand:
		completions = commandNames(word)
	case argRemote:
		completions = sh.completeRemote(ctx, word)
	case argLocal:
		completions = sh.completeLocal(word)
	}
	return head, completions, tail
}

// wordStart is where the last word of s begins, by splitWords' rules:
// blanks inside quotes or after a backslash do not end a word.
func wordStart(s string) int {
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return start // an open quote: the word goes on to the end
			}
			i += 1 + end
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case ' ', '\t', '\n':
			start = i + 1
		}
	}
	return start
}

// commandNames are the names and aliases starting with prefix.
func commandNames(prefix string) []string {
	var names []string
	for _, c := range shellCommands() {
		for _, n := range append([]string{c.name}, c.aliases...) {
			if strings.HasPrefix(n, prefix) {
				names = append(names, n+" ")
			}
		}
	}
	sort.Strings(names)
	return names
}

// completeRemote lists word's directory (from the cache when it can)
// and returns the names in it that start with word's last element;
// directories end with "/".
func (sh *shell) completeRemote(ctx context.Context, word string) []string {
	word, ok := unquoteWord(word)
	if sh.sess == nil || !ok {
		return nil
	}
	dir, prefix := path.Split(word)
	abs := sh.absRemote(dir)
	entries, ok := sh.cache.get(abs)
	if !ok {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		sh.muted.Store(true) // the transcript would garble the line being edited
		defer sh.muted.Store(false)
		s, err := sh.data(ctx)
		if err != nil {
			return nil
		}
		if entries, err = s.List(ctx, abs); err != nil {
			return nil
		}
		sh.cache.put(abs, entries)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name, prefix) {
			continue
		}
		name := quoteWord(dir + e.Name)
		if e.Type == ftp.EntryDir {
			name += "/"
		} else {
			name += " "
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// completeLocal completes a local path, relative to lcd's directory.
func (sh *shell) completeLocal(word string) []string {
	word, ok := unquoteWord(word)
	if !ok {
		return nil
	}
	dir, prefix := filepath.Split(word)
	entries, err := os.ReadDir(sh.resolveLocal(dir + "."))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		name := quoteWord(dir + e.Name())
		if e.IsDir() {
			name += string(filepath.Separator)
		} else {
			name += " "
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// unquoteWord reads a word being typed as splitWords would; false if it
// is not one word (yet), e.g. an open quote.
func unquoteWord(w string) (string, bool) {
	if w == "" {
		return "", true
	}
	words, err := splitWords(w)
	if err != nil || len(words) != 1 {
		return "", false
	}
	return words[0], true
}

// wordSpecials are the characters splitWords splits at or interprets
// on a line that can be typed (one without a newline).
const wordSpecials = " \t'\"\\"

// quoteWord escapes what splitWords would split or interpret.
func quoteWord(s string) string {
	if !strings.ContainsAny(s, wordSpecials) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(wordSpecials, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
