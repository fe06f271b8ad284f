package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/ferry-ftp/ferry/server"
)

// Account is one [[user]] of the users file.
type Account struct {
	Name string `toml:"name"`
	// Password is a hash in PHC format ($argon2id$...) or bcrypt's.
	Password string `toml:"password"`
	// Home is the user's root directory; relative to the users file's
	// directory unless absolute.
	Home string `toml:"home"`
	// Permissions are names as PermNames gives them (list, download,
	// upload, ...), in any case; absent means all.
	Permissions []string `toml:"permissions,omitempty"`
	// Disabled refuses the login exactly as a wrong password would.
	Disabled bool `toml:"disabled,omitempty"`
	// DownloadRate and UploadRate cap the user's sessions together, in
	// bytes per second; 0: no cap.
	DownloadRate int64 `toml:"download_rate,omitempty"`
	UploadRate   int64 `toml:"upload_rate,omitempty"`
	// QuotaBytes and QuotaFiles cap what the user may store under home:
	// bytes in regular files and their number; 0: no cap.
	QuotaBytes int64 `toml:"quota_bytes,omitempty"`
	QuotaFiles int64 `toml:"quota_files,omitempty"`
}

// usersFile is the document: a list of [[user]] tables.
type usersFile struct {
	Users []Account `toml:"user"`
}

// File is a users file on disk, for `ferry user`. Every change rewrites
// the whole file through a temporary and a rename, so that a server
// reloading it never reads half a file. Two commands editing at once
// race: the last rename wins.
type File struct {
	Path string
	// Params is the cost of the hashes written; zero: DefaultParams.
	Params Params
}

// List returns the accounts in the file; a missing file has none.
func (f File) List() ([]Account, error) {
	accts, err := readUsers(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return accts, err
}

// Add adds an account with the given password, creating the file if
// needed. An existing name is an error.
func (f File) Add(a Account, password string) error {
	accts, err := f.List()
	if err != nil {
		return err
	}
	if findAccount(accts, a.Name) >= 0 {
		return fmt.Errorf("auth: user %q already exists in %s", a.Name, f.Path)
	}
	if a.Password, err = HashWith(password, f.Params); err != nil {
		return err
	}
	if err := checkAccount(a); err != nil {
		return err
	}
	return writeUsers(f.Path, append(accts, a))
}

// SetPassword replaces the password of the account name.
func (f File) SetPassword(name, password string) error {
	return f.update(name, func(accts []Account, i int) ([]Account, error) {
		h, err := HashWith(password, f.Params)
		accts[i].Password = h
		return accts, err
	})
}

// Delete removes the account name.
func (f File) Delete(name string) error {
	return f.update(name, func(accts []Account, i int) ([]Account, error) {
		return append(accts[:i], accts[i+1:]...), nil
	})
}

func (f File) update(name string, change func([]Account, int) ([]Account, error)) error {
	accts, err := readUsers(f.Path)
	if err != nil {
		return err
	}
	i := findAccount(accts, name)
	if i < 0 {
		return fmt.Errorf("auth: no user %q in %s", name, f.Path)
	}
	if accts, err = change(accts, i); err != nil {
		return err
	}
	return writeUsers(f.Path, accts)
}

func findAccount(accts []Account, name string) int {
	for i, a := range accts {
		if a.Name == name {
			return i
		}
	}
	return -1
}

// errPasswordHash marks an account's error as its password hash's.
var errPasswordHash = errors.New("password")

// readUsers parses and checks the users file; any problem in any
// account fails the whole file, so that a reload is all or nothing.
func readUsers(path string) ([]Account, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	var doc usersFile
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("%s:%d:%d: %s", path, row, col, strings.TrimPrefix(de.Error(), "toml: "))
		}
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) && len(sm.Errors) > 0 {
			row, col := sm.Errors[0].Position()
			return nil, fmt.Errorf("%s:%d:%d: unknown key %s", path, row, col, strings.Join(sm.Errors[0].Key(), "."))
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	seen := make(map[string]bool, len(doc.Users))
	var lines []userLines // parsed only when there is an error to place
	where := func(i int, key string) string {
		if lines == nil {
			lines = findUserLines(data)
		}
		if i < len(lines) {
			pos, ok := lines[i].keys[key]
			if !ok {
				pos = lines[i].header
			}
			return fmt.Sprintf("%s:%d:%d: user[%d]", path, pos.Line, pos.Column, i)
		}
		return fmt.Sprintf("%s: user[%d]", path, i)
	}
	for i, a := range doc.Users {
		if err := checkAccount(a); err != nil {
			key := ""
			if errors.Is(err, errPasswordHash) {
				key = "password"
			}
			return nil, fmt.Errorf("%s: %w", where(i, key), err)
		}
		if seen[a.Name] {
			return nil, fmt.Errorf("%s: name %q appears twice", where(i, "name"), a.Name)
		}
		seen[a.Name] = true
	}
	return doc.Users, nil
}

// userLines is where one [[user]] table is in the file: its header and
// its keys.
type userLines struct {
	header unstable.Position
	keys   map[string]unstable.Position
}

// findUserLines returns the positions of the [[user]] tables of data, a
// document that decoded, in order. Users written in another form (an
// inline array) have none, and their errors name only the index.
func findUserLines(data []byte) []userLines {
	var (
		p    unstable.Parser
		out  []userLines
		in   bool
		keys []string
	)
	p.Reset(data)
	for p.NextExpression() {
		e := p.Expression()
		keys = keys[:0]
		var first *unstable.Node
		for it := e.Key(); it.Next(); {
			if first == nil {
				first = it.Node()
			}
			keys = append(keys, string(it.Node().Data))
		}
		if first == nil {
			continue
		}
		pos := p.Shape(first.Raw).Start
		switch e.Kind {
		case unstable.ArrayTable:
			in = len(keys) == 1 && keys[0] == "user"
			if in {
				out = append(out, userLines{header: pos, keys: map[string]unstable.Position{}})
			}
		case unstable.Table:
			in = false
		case unstable.KeyValue:
			if in {
				out[len(out)-1].keys[strings.Join(keys, ".")] = pos
			}
		}
	}
	return out
}

func checkAccount(a Account) error {
	if err := checkName(a.Name); err != nil {
		return err
	}
	if err := CheckHash(a.Password); err != nil {
		return fmt.Errorf("user %q: %w: %w", a.Name, errPasswordHash, err)
	}
	if a.Home == "" {
		return fmt.Errorf("user %q: home is required", a.Name)
	}
	if a.DownloadRate < 0 || a.UploadRate < 0 {
		return fmt.Errorf("user %q: negative rate", a.Name)
	}
	if a.QuotaBytes < 0 || a.QuotaFiles < 0 {
		return fmt.Errorf("user %q: negative quota", a.Name)
	}
	if a.Permissions != nil {
		if len(a.Permissions) == 0 {
			return fmt.Errorf("user %q: permissions is empty (leave it out for all)", a.Name)
		}
		if _, err := ParsePerms(a.Permissions); err != nil {
			return fmt.Errorf("user %q: %w", a.Name, err)
		}
	}
	return nil
}

// checkName refuses names an FTP USER command could not carry.
func checkName(name string) error {
	if name == "" {
		return errors.New("name is required")
	}
	if len(name) > 256 {
		return errors.New("name longer than 256 bytes")
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == ':' {
			return fmt.Errorf("name %q has a space, control character or colon", name)
		}
	}
	return nil
}

// writeUsers replaces the file atomically: a temporary in the same
// directory, mode 0600 (it holds password hashes), synced, then renamed.
func writeUsers(path string, accts []Account) error {
	data, err := toml.Marshal(usersFile{Users: accts})
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	data = append([]byte("# ferry users file: edit with `ferry user`; reload a running server with SIGHUP.\n\n"), data...)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	return nil
}

// permNames are the permissions' names in the users file (and in
// anonymous.permissions), in bit order.
var permNames = [...]struct {
	name string
	bit  server.Perm
}{
	{"list", server.PermList}, {"download", server.PermDownload}, {"upload", server.PermUpload},
	{"overwrite", server.PermOverwrite}, {"delete", server.PermDelete}, {"rename", server.PermRename},
	{"mkdir", server.PermMkdir}, {"rmdir", server.PermRmdir}, {"chmod", server.PermChmod},
}

// ParsePerms turns permission names (as PermNames gives them, in any
// case) into a set.
func ParsePerms(names []string) (server.Perm, error) {
	var p server.Perm
	for _, n := range names {
		bit, ok := permBit(strings.ToLower(strings.TrimSpace(n)))
		if !ok {
			return 0, fmt.Errorf("unknown permission %q (want %s)", n, strings.Join(PermNames(server.PermAll), ", "))
		}
		p |= bit
	}
	return p, nil
}

// permBit returns the permission named name.
func permBit(name string) (server.Perm, bool) {
	for _, pn := range permNames {
		if pn.name == name {
			return pn.bit, true
		}
	}
	return 0, false
}

// PermNames lists the names of the permissions in p, in bit order.
func PermNames(p server.Perm) []string {
	var names []string
	for _, pn := range permNames {
		if p.Has(pn.bit) {
			names = append(names, pn.name)
		}
	}
	return names
}
