package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ferry-ftp/ferry/server"
	"github.com/ferry-ftp/ferry/storage"
)

// countHashes makes s's hasher count its full-cost verifications and
// record the hashes verified.
func countHashes(s *Store) (take func() []string) {
	var (
		mu     sync.Mutex
		hashes []string
	)
	s.hasher.compute = func(hash, password string) (bool, error) {
		mu.Lock()
		hashes = append(hashes, hash)
		mu.Unlock()
		return verifyHash(hash, password)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		h := hashes
		hashes = nil
		return h
	}
}

// Every failed login runs exactly one full-cost verification, whatever
// the reason: counted, not timed. A disabled account's hash is the one
// verified, even when its right password is in the verified-credentials
// cache from before it was disabled; a name with no account verifies a
// dummy at the cost of the accounts.
func TestOneVerificationPerFailure(t *testing.T) {
	b, err := bcrypt.GenerateFromPassword([]byte("bpw"), bcrypt.MinCost)
	must(t, err)
	alice := userEntry(t, "alice", "apw", "")
	carol := userEntry(t, "carol", "cpw", "")
	bob := fmt.Sprintf("[[user]]\nname = \"bob\"\npassword = %q\nhome = \"/b\"\n", b)
	s, path := newStore(t, alice+carol+bob, nil) // [anonymous] off
	take := countHashes(s)
	hashOf := func(name string) string { return s.users.Load().accounts[name].hash }

	// Successes, for contrast: the first costs one, a repeat is cached.
	for _, c := range [][2]string{{"alice", "apw"}, {"carol", "cpw"}} {
		if _, err := login(s, c[0], c[1]); err != nil {
			t.Fatalf("%s: %v", c[0], err)
		}
		if n := len(take()); n != 1 {
			t.Errorf("first login of %s: %d verifications, want 1", c[0], n)
		}
		if _, err := login(s, c[0], c[1]); err != nil {
			t.Fatalf("%s again: %v", c[0], err)
		}
		if n := len(take()); n != 0 {
			t.Errorf("cached login of %s: %d verifications, want 0", c[0], n)
		}
	}

	// Carol is disabled with her hash unchanged: her right password is
	// still in the cache, and must not be used.
	must(t, os.WriteFile(path, []byte(alice+strings.TrimSuffix(carol, "\n")+"disabled = true\n"+bob), 0o600))
	must(t, s.Reload())
	dummy := s.users.Load().dummy
	for _, c := range []struct{ name, user, pass, hash string }{
		{"unknown user", "nobody", "apw", dummy},
		{"unknown user, empty password", "nobody", "", dummy},
		{"name in another case", "ALICE", "apw", dummy},
		{"anonymous while [anonymous] is off", "anonymous", "guest@example.com", dummy},
		{"ftp while [anonymous] is off", "ftp", "", dummy},
		{"wrong password", "alice", "wrong", hashOf("alice")},
		{"empty password", "alice", "", hashOf("alice")},
		{"over-long password starting with the right one", "alice", "apw" + strings.Repeat("x", 2*maxPassword), hashOf("alice")},
		{"bcrypt, wrong password", "bob", "nope", hashOf("bob")},
		{"disabled, wrong password", "carol", "wrong", hashOf("carol")},
		{"disabled, right password, once cached", "carol", "cpw", hashOf("carol")},
		{"disabled, right password again", "carol", "cpw", hashOf("carol")},
		{"quick user, wrong password", "quick", "apw", s.quick["quick"].hash},
	} {
		u, err := login(s, c.user, c.pass)
		if !errors.Is(err, server.ErrBadLogin) || u != nil {
			t.Errorf("%s: %v, %v; want ErrBadLogin", c.name, u, err)
		}
		if got := take(); len(got) != 1 || got[0] != c.hash {
			t.Errorf("%s: verified %d hashes %q, want exactly one, %q", c.name, len(got), got, c.hash)
		}
	}

	// A name the server has locked (Refuse): alice's right password is
	// cached, and still costs a full verification, and fails.
	for i := 0; i < 2; i++ {
		u, err := s.Authenticate(context.Background(), server.LoginRequest{User: "alice", Password: "apw", Refuse: true})
		if !errors.Is(err, server.ErrBadLogin) || u != nil {
			t.Errorf("locked alice, right password: %v, %v; want ErrBadLogin", u, err)
		}
		if got := take(); len(got) != 1 || got[0] != hashOf("alice") {
			t.Errorf("locked alice: verified %d hashes, want exactly one of hers", len(got))
		}
	}
}

// The dummy has the cost most hashes have, the first such on a tie,
// and matches no password; with no users it has Options.Params's cost.
func TestDummyCost(t *testing.T) {
	other := Params{Memory: 128, Time: 2, Threads: 1}
	hOther, err := HashWith("pw", other)
	must(t, err)
	b, err := bcrypt.GenerateFromPassword([]byte("b"), bcrypt.MinCost+1)
	must(t, err)
	hQuick, err := HashWith("x", cheap) // at the cost of newStore's quick user
	must(t, err)
	entry := func(name, hash string) string {
		return fmt.Sprintf("[[user]]\nname = %q\npassword = %q\nhome = \"h\"\n", name, hash)
	}
	for _, c := range []struct {
		name, body, like string
	}{
		{"no file users: the quick user's", "", hQuick},
		{"most at another cost", entry("a", hOther) + entry("b", hOther), hOther},
		{"a tie: the first (the quick user)", entry("a", hOther), hQuick},
		{"most bcrypt", entry("a", string(b)) + entry("b", string(b)) + entry("c", hOther), string(b)},
	} {
		s, _ := newStore(t, c.body, nil)
		d := s.users.Load().dummy
		if costOf(d) != costOf(c.like) || costOf(d) == "" {
			t.Errorf("%s: dummy %s costs %q, want %q", c.name, d, costOf(d), costOf(c.like))
		}
		if err := CheckHash(d); err != nil {
			t.Errorf("%s: dummy %s: %v", c.name, d, err)
		}
		if ok, err := verifyHash(d, "pw"); ok || err != nil {
			t.Errorf("%s: dummy verifies: %v, %v", c.name, ok, err)
		}
	}
	s, err := New(Options{Params: other, Open: func(string) (storage.FS, error) { return fakeFS{}, nil }})
	must(t, err)
	if got, want := costOf(s.users.Load().dummy), "argon2id m=128 t=2 p=1 len=32"; got != want {
		t.Errorf("no users: dummy costs %q, want %q", got, want)
	}
}
