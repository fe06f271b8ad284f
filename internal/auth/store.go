// Package auth owns ferry's users: the users file, password hashing and
// verification, and the Store that the server asks at login.
package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ferry-ftp/ferry/server"
	"github.com/ferry-ftp/ferry/storage"
)

// Options configures a Store.
type Options struct {
	// UsersFile is the users file; empty: none.
	UsersFile string
	// Quick are accounts from the command line. Their passwords are
	// hashed in New and the plain text is not kept.
	Quick []QuickUser
	// Anonymous enables the anonymous account when not nil.
	Anonymous *Anonymous
	// Open opens a user's home, or the anonymous root, as storage. It
	// is required: which backend holds the homes is the caller's choice
	// (internal/config opens local directories), so auth imports none.
	Open func(root string) (storage.FS, error)
	// Concurrency bounds simultaneous hash computations; 0: the number of CPUs.
	Concurrency int
	// Params is the cost of the quick users' hashes, and of the dummy
	// hash verified for unknown names when there are no users (else the
	// dummy has the cost most users' hashes have); zero: DefaultParams.
	Params Params
}

// QuickUser is a read-write account whose home is Home.
type QuickUser struct {
	Name, Password, Home string
}

// Anonymous is the anonymous account: any password, its own root.
type Anonymous struct {
	Root  string
	Perms server.Perm
	// DownloadRate and UploadRate cap all anonymous sessions together,
	// in bytes per second; 0: no cap.
	DownloadRate, UploadRate int64
}

// Store is a server.Authenticator over the users file, the quick users
// and the anonymous account. It is safe for concurrent use.
type Store struct {
	file   string
	quick  map[string]*account // fixed after New
	anon   *Anonymous
	open   func(string) (storage.FS, error)
	hasher *Hasher
	// quickHashes are the quick users' hashes in the order given, and
	// params the cost of a dummy when there are no users: for dummyFor.
	quickHashes []string
	params      Params

	users atomic.Pointer[userSet] // from the file; swapped by Reload

	mu  sync.Mutex
	fss map[string]storage.FS // by home directory, opened once
}

var _ server.Authenticator = (*Store)(nil)

// userSet is the users of one load of the file.
type userSet struct {
	accounts map[string]*account
	// dummy is verified for names that have no account, so that the
	// time a failed login takes does not tell whether the name exists.
	dummy string
}

// account is a user ready for login checks.
type account struct {
	name, hash, home string
	perms            server.Perm
	disabled         bool
	downRate, upRate int64
	quota            server.Quota
}

// New loads the users file (if any) and hashes the quick users' passwords.
func New(opts Options) (*Store, error) {
	if opts.Open == nil {
		return nil, errors.New("auth: Options.Open is required")
	}
	n := opts.Concurrency
	if n == 0 {
		n = runtime.NumCPU()
	}
	s := &Store{
		file:   opts.UsersFile,
		quick:  map[string]*account{},
		anon:   opts.Anonymous,
		open:   opts.Open,
		hasher: NewHasher(n),
		params: opts.Params,
		fss:    map[string]storage.FS{},
	}
	for _, q := range opts.Quick {
		if err := checkName(q.Name); err != nil {
			return nil, fmt.Errorf("auth: quick user: %w", err)
		}
		if _, dup := s.quick[q.Name]; dup {
			return nil, fmt.Errorf("auth: quick user %q given twice", q.Name)
		}
		h, err := HashWith(q.Password, opts.Params)
		if err != nil {
			return nil, err
		}
		s.quick[q.Name] = &account{name: q.Name, hash: h, home: q.Home, perms: server.PermAll}
		s.quickHashes = append(s.quickHashes, h)
	}
	if s.file != "" {
		if err := s.Reload(); err != nil {
			return nil, err
		}
		return s, nil
	}
	dummy, err := s.dummyFor(nil)
	if err != nil {
		return nil, err
	}
	s.users.Store(&userSet{accounts: map[string]*account{}, dummy: dummy})
	return s, nil
}

// dummyFor returns a dummy hash at the cost most of the quick users'
// and accts' hashes share (the first such cost in order on a tie), so
// that an unknown name costs what most known ones do; with no users, at
// the cost s.params. An account whose cost differs from most still
// stands out by its timing: give all hashes one cost (`ferry user
// passwd` rewrites them at the current one).
func (s *Store) dummyFor(accts []Account) (string, error) {
	hashes := slices.Clone(s.quickHashes)
	for _, a := range accts {
		hashes = append(hashes, a.Password)
	}
	if len(hashes) == 0 { // a template at s.params: dummyHash keeps only its cost
		p := s.params.orDefault()
		hashes = append(hashes, fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.Memory, p.Time, p.Threads,
			b64.EncodeToString(make([]byte, argonSaltLen)), b64.EncodeToString(make([]byte, argonKeyLen))))
	}
	count := map[string]int{}
	best := hashes[0]
	for _, h := range hashes {
		c := costOf(h)
		count[c]++
		if count[c] > count[costOf(best)] {
			best = h
		}
	}
	return dummyHash(best)
}

// Reload re-reads the users file. On any error the users in force stay
// as they were. Sessions already logged in keep their User.
func (s *Store) Reload() error {
	if s.file == "" {
		return nil
	}
	accts, err := readUsers(s.file)
	if err != nil {
		return err
	}
	dir := filepath.Dir(s.file)
	m := make(map[string]*account, len(accts))
	for _, a := range accts {
		perms := server.PermAll
		if a.Permissions != nil {
			perms, _ = ParsePerms(a.Permissions) // checked by readUsers
		}
		home := a.Home
		if !filepath.IsAbs(home) {
			home = filepath.Join(dir, home)
		}
		m[a.Name] = &account{name: a.Name, hash: a.Password, home: home, perms: perms, disabled: a.Disabled,
			downRate: a.DownloadRate, upRate: a.UploadRate,
			quota: server.Quota{Bytes: a.QuotaBytes, Files: a.QuotaFiles}}
	}
	dummy, err := s.dummyFor(accts)
	if err != nil {
		return err
	}
	s.users.Store(&userSet{accounts: m, dummy: dummy})
	return nil
}

// Len returns how many accounts the users file gave, for logs.
func (s *Store) Len() int { return len(s.users.Load().accounts) }

// IsAnonymous reports whether name is the anonymous account's (RFC 1635:
// "anonymous", or "ftp" by tradition), in any case.
func IsAnonymous(name string) bool {
	return strings.EqualFold(name, "anonymous") || strings.EqualFold(name, "ftp")
}

// Authenticate implements server.Authenticator. Wrong password, unknown
// name (the anonymous name too when anonymous logins are off) and
// disabled account all return server.ErrBadLogin after exactly one
// full-cost verification: of the account's hash, or of a dummy at the
// cost most accounts have. A disabled account's hash is verified with
// the verified-credentials cache out of the way, so that its right
// password takes as long as a wrong one, and is then refused whatever
// the result. Only two failures verify nothing, and neither depends on
// the account: a full queue of logins waiting to hash (errBusy, as
// ErrBadLogin) and a ctx that ends while waiting.
func (s *Store) Authenticate(ctx context.Context, req server.LoginRequest) (*server.User, error) {
	if s.anon != nil && IsAnonymous(req.User) {
		fsys, err := s.fs(s.anon.Root)
		if err != nil {
			return nil, err
		}
		return &server.User{Name: "anonymous", FS: fsys, Perms: s.anon.Perms, Anonymous: true,
			DownloadRate: s.anon.DownloadRate, UploadRate: s.anon.UploadRate}, nil
	}
	users := s.users.Load()
	acct := s.quick[req.User]
	if acct == nil {
		acct = users.accounts[req.User]
	}
	hash, useCache := users.dummy, false
	if acct != nil {
		// A disabled account, or one the server will refuse anyway (a
		// locked name), must take as long with its right password as
		// with a wrong one: no cache.
		hash, useCache = acct.hash, !acct.disabled && !req.Refuse
	}
	ok, err := s.hasher.verify(ctx, req.Remote, hash, req.Password, useCache)
	if errors.Is(err, errBusy) {
		return nil, fmt.Errorf("%w: %w", server.ErrBadLogin, err)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: user %q: %w", req.User, err)
	}
	if acct == nil || !ok || acct.disabled || req.Refuse {
		return nil, server.ErrBadLogin
	}
	fsys, err := s.fs(acct.home)
	if err != nil {
		return nil, err
	}
	return &server.User{Name: acct.name, FS: fsys, Perms: acct.perms,
		DownloadRate: acct.downRate, UploadRate: acct.upRate, Quota: acct.quota}, nil
}

// fs returns the storage rooted at home, opening it on first use.
func (s *Store) fs(home string) (storage.FS, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.fss[home]; ok {
		return f, nil
	}
	f, err := s.open(home)
	if err != nil {
		return nil, fmt.Errorf("auth: home: %w", err)
	}
	s.fss[home] = f
	return f, nil
}

// Roots returns every home directory and the anonymous root, sorted
// and without repeats: the places a start-up sweep of stale upload
// temporaries must visit.
func (s *Store) Roots() []string {
	set := map[string]bool{}
	if s.anon != nil {
		set[s.anon.Root] = true
	}
	for _, a := range s.quick {
		set[a.home] = true
	}
	for _, a := range s.users.Load().accounts {
		set[a.home] = true
	}
	roots := make([]string, 0, len(set))
	for r := range set {
		roots = append(roots, r)
	}
	sort.Strings(roots)
	return roots
}

// OpenRoot opens root (one of Roots) with Options.Open, apart from the
// storage that logins share: the caller closes it if it is an io.Closer.
// The start-up sweep of stale temporaries runs before the server drops
// root privileges, and what it opens must not outlive it in sessions.
func (s *Store) OpenRoot(root string) (storage.FS, error) {
	f, err := s.open(root)
	if err != nil {
		return nil, fmt.Errorf("auth: open %s: %w", root, err)
	}
	return f, nil
}

// Close releases the storage opened for logins. Sessions still using it
// must have ended.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for home, f := range s.fss {
		if c, ok := f.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
		delete(s.fss, home)
	}
	return errors.Join(errs...)
}
