package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ferry-ftp/ferry/server"
	"github.com/ferry-ftp/ferry/storage"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// cheap keeps the tests fast: 64 MiB hashes take a second each under -race.
var cheap = Params{Memory: 64, Time: 1, Threads: 1}

func login(s *Store, user, pass string) (*server.User, error) {
	return s.Authenticate(context.Background(), server.LoginRequest{User: user, Password: pass})
}

func TestHashVerify(t *testing.T) {
	h, err := Hash("s3cret")
	must(t, err)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=1,p=2$") {
		t.Fatalf("hash %q not in the documented PHC form", h)
	}
	must(t, CheckHash(h))
	hs := NewHasher(1)
	for pass, want := range map[string]bool{"s3cret": true, "s3cret ": false, "": false, "S3cret": false} {
		ok, err := hs.Verify(t.Context(), h, pass)
		if err != nil || ok != want {
			t.Errorf("Verify(%q) = %v, %v; want %v", pass, ok, err, want)
		}
	}
	h2, err := HashWith("s3cret", cheap)
	must(t, err)
	if h2 == h {
		t.Error("two hashes of one password are equal: salt not random")
	}
	// A long password that starts like the real one never matches.
	long := "s3cret" + strings.Repeat("x", 2*maxPassword)
	if ok, err := hs.Verify(t.Context(), h, long); ok || err != nil {
		t.Errorf("long password: %v, %v", ok, err)
	}
}

func TestBcrypt(t *testing.T) {
	b, err := bcrypt.GenerateFromPassword([]byte("hunter2"), bcrypt.MinCost)
	must(t, err)
	hs := NewHasher(1)
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		h := prefix + string(b[4:])
		must(t, CheckHash(h))
		if ok, err := hs.Verify(t.Context(), h, "hunter2"); !ok || err != nil {
			t.Errorf("%s: right password: %v, %v", prefix, ok, err)
		}
		if ok, err := hs.Verify(t.Context(), h, "hunter3"); ok || err != nil {
			t.Errorf("%s: wrong password: %v, %v", prefix, ok, err)
		}
	}
}

func TestCheckHashRejects(t *testing.T) {
	for _, h := range []string{
		"", "plain", "$1$md5$x", "$argon2i$v=19$m=65536,t=1,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=16$m=65536,t=1,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=65536,t=0,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=65536,t=1,p=2$!!$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=65536,t=1,p=2,x=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if CheckHash(h) == nil {
			t.Errorf("CheckHash(%q) accepted", h)
		}
	}
}

// The caps, exactly: a hash at a cap is accepted, one step beyond is
// refused, so that no users file can make one login cost more than
// 256 MiB and ten passes, or bcrypt's cost 14.
func TestCostCaps(t *testing.T) {
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	argon := func(m, tt, p int) string {
		return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, tt, p, salt, key)
	}
	bc := func(cost int) string { return fmt.Sprintf("$2b$%02d$%s", cost, strings.Repeat("a", 53)) }
	for _, c := range []struct {
		hash string
		ok   bool
	}{
		{argon(256*1024, 10, 16), true},
		{argon(256*1024+1, 1, 1), false},
		{argon(1024*1024, 1, 1), false},
		{argon(65536, 11, 1), false},
		{argon(65536, 1, 17), false},
		{bc(14), true},
		{bc(15), false},
		{bc(31), false},
	} {
		if err := CheckHash(c.hash); (err == nil) != c.ok {
			t.Errorf("CheckHash(%s) = %v, want ok %v", c.hash, err, c.ok)
		}
	}
	// Verify refuses them too, whoever calls it, without hashing.
	hs := NewHasher(1)
	hs.compute = func(string, string) (bool, error) { t.Error("an over-cap hash was computed"); return false, nil }
	for _, h := range []string{argon(512*1024, 1, 1), bc(15)} {
		if _, err := hs.Verify(t.Context(), h, "x"); err == nil {
			t.Errorf("Verify(%s) accepted the hash", h)
		}
	}
}

// A users file asking for more than the caps is refused at load and at
// reload, with the file and the line of the offending password; a
// reload keeps the users in force.
func TestUsersFileOverCap(t *testing.T) {
	over := "$argon2id$v=19$m=1048576,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	body := userEntry(t, "alice", "apw", "") + // lines 1-4 and a blank
		"\n[[user]]\nname = \"mallory\"\nhome = \"m\"\npassword = \"" + over + "\"\n" // password on line 10
	dir := t.TempDir()
	path := filepath.Join(dir, "users.toml")
	must(t, os.WriteFile(path, []byte(body), 0o600))
	want := path + ":10:1: user[1]: "
	_, err := New(Options{UsersFile: path, Params: cheap, Open: func(string) (storage.FS, error) { return fakeFS{}, nil }})
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "m=1048576 out of") {
		t.Fatalf("New over the cap: %v; want an error starting %q", err, want)
	}

	s, path := newStore(t, userEntry(t, "alice", "apw", ""), nil)
	must(t, os.WriteFile(path, []byte(body), 0o600))
	err = s.Reload()
	if want := path + ":10:1: user[1]: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Reload over the cap: %v; want an error starting %q", err, want)
	}
	if _, err := login(s, "alice", "apw"); err != nil {
		t.Errorf("after the refused reload: %v", err)
	}
	// bcrypt's cost, with the key indented: the column is the key's.
	must(t, os.WriteFile(path, []byte("[[user]]\nname = \"b\"\nhome = \"b\"\n  password = \"$2b$15$"+strings.Repeat("a", 53)+"\"\n"), 0o600))
	if err, want := s.Reload(), path+":4:3: user[0]: "; err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "cost 15 above the cap of 14") {
		t.Errorf("Reload of bcrypt cost 15: %v; want an error starting %q", err, want)
	}
	// Other problems are placed at the user's header.
	must(t, os.WriteFile(path, []byte("# users\n\n[[user]]\nname = \"b\"\npassword = \"$2b$10$"+strings.Repeat("a", 53)+"\"\n"), 0o600))
	if err, want := s.Reload(), path+":3:3: user[0]: "; err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "home is required") {
		t.Errorf("Reload without home: %v; want an error starting %q", err, want)
	}
}

func TestVerifyHonoursContext(t *testing.T) {
	hs := NewHasher(1)
	holdSlots(t, hs, 1) // every slot taken
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	h, err := HashWith("x", cheap)
	must(t, err)
	if _, err := hs.Verify(ctx, h, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify with a full semaphore and a cancelled ctx: %v", err)
	}
}

// fakeFS records which root it was opened on.
type fakeFS struct {
	storage.FS
	root string
}

// newStore writes a users file with body into a temp dir and opens a
// Store over it and an anonymous root.
func newStore(t *testing.T, body string, anon *Anonymous) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "users.toml")
	must(t, os.WriteFile(path, []byte(body), 0o600))
	s, err := New(Options{
		UsersFile:   path,
		Quick:       []QuickUser{{Name: "quick", Password: "qpw", Home: "/srv/quick"}},
		Anonymous:   anon,
		Open:        func(root string) (storage.FS, error) { return fakeFS{root: root}, nil },
		Concurrency: 2,
		Params:      cheap,
	})
	must(t, err)
	return s, path
}

func userEntry(t *testing.T, name, password, extra string) string {
	t.Helper()
	h, err := HashWith(password, cheap)
	must(t, err)
	return fmt.Sprintf("[[user]]\nname = %q\npassword = %q\nhome = \"home/%s\"\n%s\n", name, h, name, extra)
}

func TestStoreLogins(t *testing.T) {
	b, err := bcrypt.GenerateFromPassword([]byte("bpw"), bcrypt.MinCost)
	must(t, err)
	body := userEntry(t, "alice", "apw", "permissions = [\"list\", \"download\", \"upload\"]\ndownload_rate = 4096\nquota_bytes = 1000000\nquota_files = 10") +
		userEntry(t, "carol", "cpw", "disabled = true") +
		fmt.Sprintf("[[user]]\nname = \"bob\"\npassword = %q\nhome = \"/abs/bob\"\n", b)
	s, path := newStore(t, body, &Anonymous{Root: "/srv/pub", Perms: server.PermReadOnly})
	dir := filepath.Dir(path)

	u, err := login(s, "alice", "apw")
	must(t, err)
	if u.Name != "alice" || u.Perms != server.PermList|server.PermDownload|server.PermUpload ||
		u.FS.(fakeFS).root != filepath.Join(dir, "home/alice") || u.Anonymous || u.DownloadRate != 4096 || u.UploadRate != 0 ||
		u.Quota != (server.Quota{Bytes: 1000000, Files: 10}) {
		t.Errorf("alice: %+v", u)
	}
	u, err = login(s, "bob", "bpw")
	must(t, err)
	if u.Perms != server.PermAll || u.FS.(fakeFS).root != "/abs/bob" {
		t.Errorf("bob: %+v", u)
	}
	u, err = login(s, "quick", "qpw")
	must(t, err)
	if u.Perms != server.PermAll || u.FS.(fakeFS).root != "/srv/quick" {
		t.Errorf("quick: %+v", u)
	}
	for _, name := range []string{"anonymous", "ftp", "Anonymous"} {
		u, err = login(s, name, "guest@example.com")
		must(t, err)
		if !u.Anonymous || u.Perms != server.PermReadOnly || u.FS.(fakeFS).root != "/srv/pub" {
			t.Errorf("%s: %+v", name, u)
		}
	}
	for _, c := range [][2]string{{"alice", "wrong"}, {"alice", ""}, {"nobody", "apw"}, {"carol", "cpw"}, {"quick", "apw"}, {"ALICE", "apw"}} {
		if u, err := login(s, c[0], c[1]); !errors.Is(err, server.ErrBadLogin) || u != nil {
			t.Errorf("login %s/%s = %v, %v; want ErrBadLogin", c[0], c[1], u, err)
		}
	}
	if got := s.Roots(); len(got) != 5 {
		t.Errorf("roots %q", got)
	}
}

// The caller chooses the backend of the homes: without an opener there
// is no Store, and OpenRoot uses the same one, afresh on every call.
func TestOpenRoot(t *testing.T) {
	if _, err := New(Options{Params: cheap}); err == nil {
		t.Error("New without Options.Open succeeded")
	}
	var opened []string
	fail := errors.New("no such disk")
	s, err := New(Options{Params: cheap, Open: func(root string) (storage.FS, error) {
		opened = append(opened, root)
		if root == "/broken" {
			return nil, fail
		}
		return fakeFS{root: root}, nil
	}})
	must(t, err)
	for range 2 {
		if f, err := s.OpenRoot("/srv/pub"); err != nil || f.(fakeFS).root != "/srv/pub" {
			t.Errorf("OpenRoot = %v, %v", f, err)
		}
	}
	if _, err := s.OpenRoot("/broken"); !errors.Is(err, fail) {
		t.Errorf("OpenRoot(/broken) error = %v, want the opener's", err)
	}
	if len(opened) != 3 {
		t.Errorf("opener called for %q, want once per OpenRoot", opened)
	}
}

func TestAnonymousDisabled(t *testing.T) {
	s, _ := newStore(t, "", nil)
	if _, err := login(s, "anonymous", ""); !errors.Is(err, server.ErrBadLogin) {
		t.Fatalf("anonymous without [anonymous]: %v", err)
	}
}

func TestReload(t *testing.T) {
	s, path := newStore(t, userEntry(t, "alice", "apw", ""), nil)
	old, err := login(s, "alice", "apw")
	must(t, err)

	// A broken file keeps the old users.
	for _, bad := range []string{
		"[[user]\nname=", // not TOML
		"[[user]]\nname = \"x\"\npassword = \"plain\"\nhome = \"h\"\n",        // not a hash
		userEntry(t, "dup", "p", "") + userEntry(t, "dup", "p", ""),           // twice
		userEntry(t, "x", "p", "") + "shell = \"/bin/sh\"\n",                  // unknown key
		userEntry(t, "x", "p", "permissions = [\"fly\"]"),                     // unknown permission
		"[[user]]\nname = \"x\"\npassword = \"$2a$04$invalid\"\nhome = \"h\"", // bad bcrypt
	} {
		must(t, os.WriteFile(path, []byte(bad), 0o600))
		if err := s.Reload(); err == nil {
			t.Errorf("Reload accepted %q", bad)
		}
		if _, err := login(s, "alice", "apw"); err != nil {
			t.Fatalf("after a failed reload alice cannot log in: %v", err)
		}
	}
	// A good file swaps.
	must(t, os.WriteFile(path, []byte(userEntry(t, "dave", "dpw", "")), 0o600))
	must(t, s.Reload())
	if _, err := login(s, "alice", "apw"); !errors.Is(err, server.ErrBadLogin) {
		t.Errorf("alice after reload: %v", err)
	}
	if _, err := login(s, "dave", "dpw"); err != nil {
		t.Errorf("dave after reload: %v", err)
	}
	if old.Name != "alice" || old.FS == nil {
		t.Errorf("the old session's user changed: %+v", old)
	}
}

func TestConcurrentLogins(t *testing.T) {
	s, path := newStore(t, userEntry(t, "alice", "apw", "")+userEntry(t, "bob", "bpw", ""), &Anonymous{Root: "/pub", Perms: server.PermReadOnly})
	good := userEntry(t, "alice", "apw", "") + userEntry(t, "bob", "bpw", "")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 8 {
		wg.Go(func() {
			for j := range 3 {
				name, pass, ok := "alice", "apw", true
				switch (i + j) % 3 {
				case 1:
					name, pass, ok = "bob", "nope", false
				case 2:
					name, pass, ok = "anonymous", "x", true
				}
				_, err := login(s, name, pass)
				if ok != (err == nil) {
					errs <- fmt.Errorf("%s/%s: %v", name, pass, err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 3 {
			if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
				errs <- err
			}
			if err := s.Reload(); err != nil {
				errs <- err
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.toml")
	f := File{Path: path, Params: cheap}
	if l, err := f.List(); err != nil || len(l) != 0 {
		t.Fatalf("List of a missing file: %v, %v", l, err)
	}
	must(t, f.Add(Account{Name: "alice", Home: "alice", Permissions: []string{"list", "download"}}, "one"))
	must(t, f.Add(Account{Name: "bob", Home: "/srv/bob"}, "two"))
	if err := f.Add(Account{Name: "bob", Home: "x"}, "three"); err == nil {
		t.Error("Add of an existing name succeeded")
	}
	if err := f.Add(Account{Name: "eve", Home: "x", Permissions: []string{"fly"}}, "p"); err == nil {
		t.Error("Add with an unknown permission succeeded")
	}
	if err := f.Add(Account{Name: "bad name", Home: "x"}, "p"); err == nil {
		t.Error("Add of a name with a space succeeded")
	}
	fi, err := os.Stat(path)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	l, err := f.List()
	must(t, err)
	if len(l) != 2 || l[0].Name != "alice" || l[0].Home != "alice" || len(l[0].Permissions) != 2 || l[1].Permissions != nil {
		t.Fatalf("List = %+v", l)
	}

	must(t, f.SetPassword("alice", "uno"))
	if err := f.SetPassword("zed", "x"); err == nil {
		t.Error("SetPassword of a missing user succeeded")
	}
	s, err := New(Options{UsersFile: path, Params: cheap, Open: func(string) (storage.FS, error) { return fakeFS{}, nil }})
	must(t, err)
	if _, err := login(s, "alice", "uno"); err != nil {
		t.Errorf("alice with the new password: %v", err)
	}
	if _, err := login(s, "alice", "one"); !errors.Is(err, server.ErrBadLogin) {
		t.Errorf("alice with the old password: %v", err)
	}
	if _, err := login(s, "bob", "two"); err != nil {
		t.Errorf("bob: %v", err)
	}

	must(t, f.Delete("alice"))
	if err := f.Delete("alice"); err == nil {
		t.Error("second Delete succeeded")
	}
	l, err = f.List()
	must(t, err)
	if len(l) != 1 || l[0].Name != "bob" {
		t.Fatalf("after Delete: %+v", l)
	}
	// No temporaries left beside the file.
	ents, err := os.ReadDir(filepath.Dir(path))
	must(t, err)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only users.toml", len(ents))
	}
}

func TestPermNames(t *testing.T) {
	p, err := ParsePerms(PermNames(server.PermAll))
	if err != nil || p != server.PermAll {
		t.Fatalf("round trip of all permissions: %v, %v", p, err)
	}
	if got := strings.Join(PermNames(server.PermReadOnly), ","); got != "list,download" {
		t.Errorf("PermNames(read-only) = %q", got)
	}
	// Every permission has one name, in bit order, so that PermNames
	// lists a set the way a person wrote it.
	var all server.Perm
	for i, pn := range permNames {
		if pn.bit != server.Perm(1)<<i {
			t.Errorf("permNames[%d] = %q is bit %#x, want %#x", i, pn.name, pn.bit, 1<<i)
		}
		all |= pn.bit
	}
	if all != server.PermAll {
		t.Errorf("named permissions %#x, server.PermAll %#x", all, server.PermAll)
	}
	if p, err := ParsePerms([]string{" LIST", "Upload "}); err != nil || p != server.PermList|server.PermUpload {
		t.Errorf("ParsePerms ignoring case and space = %v, %v", p, err)
	}
	if _, err := ParsePerms([]string{"list", "fly"}); err == nil || !strings.Contains(err.Error(), `"fly"`) {
		t.Errorf("ParsePerms(unknown) error = %v", err)
	}
}

// BenchmarkVerify measures one login's hashing at the default cost: the
// floor of any login benchmark against ferry.
func BenchmarkVerify(b *testing.B) {
	h, err := Hash("s3cret")
	if err != nil {
		b.Fatal(err)
	}
	hs := NewHasher(1)
	for b.Loop() {
		if ok, err := hs.Verify(b.Context(), h, "s3cret"); !ok || err != nil {
			b.Fatalf("Verify = %v, %v", ok, err)
		}
	}
}

// After one successful verification the same password is accepted from
// the cache: here even with every hashing slot taken and a cancelled
// context, which would fail any real hashing. A wrong password, another
// hash, or an expired entry still has to hash (and so fails here).
func TestVerifiedCache(t *testing.T) {
	hs := NewHasher(1)
	h, err := HashWith("right", cheap)
	must(t, err)
	if ok, err := hs.Verify(t.Context(), h, "right"); !ok || err != nil {
		t.Fatalf("first verification: %v %v", ok, err)
	}
	holdSlots(t, hs, 1) // every slot taken from now on
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if ok, err := hs.Verify(ctx, h, "right"); !ok || err != nil {
		t.Fatalf("cached verification: %v %v", ok, err)
	}
	if _, err := hs.Verify(ctx, h, "wrong"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a wrong password skipped hashing: %v", err)
	}
	other, err := HashWith("right", cheap) // same password, new salt
	must(t, err)
	if _, err := hs.Verify(ctx, other, "right"); !errors.Is(err, context.Canceled) {
		t.Fatalf("another hash matched the cache: %v", err)
	}
	hs.cache.now = func() time.Time { return time.Now().Add(cacheTTL + time.Second) }
	if _, err := hs.Verify(ctx, h, "right"); !errors.Is(err, context.Canceled) {
		t.Fatalf("an expired entry was used: %v", err)
	}
}
