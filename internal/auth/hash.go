package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Params is the cost of new argon2id hashes.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
}

// DefaultParams is the cost of new hashes: 64 MiB, one pass, two lanes
// (RFC 9106 section 4 allows trading passes for memory; OWASP's minimum
// is 19 MiB with two passes). One verification takes tens of
// milliseconds on a current core, and about 0.15 s on a small shared
// virtual machine (BenchmarkVerify), so it dominates any login benchmark;
// the Hasher's semaphore bounds how many run at once, and so the memory
// a login flood can claim (64 MiB each).
var DefaultParams = Params{Memory: 64 * 1024, Time: 1, Threads: 2}

func (p Params) orDefault() Params {
	if p == (Params{}) {
		return DefaultParams
	}
	return p
}

const (
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Caps on the cost a stored hash may ask for, checked when a users file
// is loaded or reloaded (a file asking more is refused, with its line),
// so that a hand-edited or hostile users file cannot make one login cost
// gigabytes or many seconds. Measured on a shared two-core virtual
// machine: the default 64 MiB, t=1 takes 0.13 s; the argon2id cap
// (256 MiB, t=10) 1.5 s; bcrypt cost 14 0.9 s (cost 12 0.23 s). The
// memory of the argon2id computations running at once is at most the
// Hasher's slots times maxArgonMemory.
const (
	maxArgonMemory  = 256 * 1024 // KiB: 256 MiB
	maxArgonTime    = 10
	maxArgonThreads = 16
	maxBcryptCost   = 14
)

// maxPassword bounds the password a client may have hashed; the
// server's command-line limit bounds it already, this keeps Verify safe
// for any caller.
const maxPassword = 1024

// errUnknownHash is returned for a stored hash in no supported format.
var errUnknownHash = errors.New("unsupported password hash (want $argon2id$ or bcrypt $2a$/$2b$/$2y$)")

// Hash returns the argon2id hash of password at DefaultParams in PHC
// string format: $argon2id$v=19$m=65536,t=1,p=2$<salt>$<key>, base64
// without padding.
func Hash(password string) (string, error) { return HashWith(password, DefaultParams) }

// HashWith is Hash at the cost p (zero: DefaultParams).
func HashWith(password string, p Params) (string, error) {
	p = p.orDefault()
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var b64 = base64.RawStdEncoding

// dummyHash returns a hash that no password matches, at the cost of
// the hash like (a PHC argon2id or a bcrypt string, as CheckHash
// accepts): verifying a password against it costs what verifying one
// against like does. Its salt and key are random, not computed, so
// making one costs nothing.
func dummyHash(like string) (string, error) {
	if isBcrypt(like) {
		cost, err := bcrypt.Cost([]byte(like))
		if err != nil {
			return "", err
		}
		salt, key := make([]byte, 16), make([]byte, 23) // bcrypt's sizes
		_, _ = rand.Read(salt)
		_, _ = rand.Read(key)
		return fmt.Sprintf("%s%02d$%s%s", like[:4], cost, bcryptB64.EncodeToString(salt), bcryptB64.EncodeToString(key)), nil
	}
	p, err := parseArgon2id(like)
	if err != nil {
		return "", err
	}
	salt, key := make([]byte, len(p.salt)), make([]byte, len(p.key))
	_, _ = rand.Read(salt)
	_, _ = rand.Read(key)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// bcryptB64 is bcrypt's base64, without padding.
var bcryptB64 = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)

// costOf names the cost of a hash CheckHash accepts: hashes with the
// same name take the same work to verify.
func costOf(hash string) string {
	if isBcrypt(hash) {
		cost, _ := bcrypt.Cost([]byte(hash))
		return fmt.Sprintf("bcrypt %d", cost)
	}
	p, err := parseArgon2id(hash)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("argon2id m=%d t=%d p=%d len=%d", p.memory, p.time, p.threads, p.keyLen)
}

// CheckHash reports whether hash is in a format Verify understands,
// with parameters in bounds.
func CheckHash(hash string) error {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		_, err := parseArgon2id(hash)
		return err
	case isBcrypt(hash):
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return err
		}
		if cost > maxBcryptCost {
			return fmt.Errorf("bcrypt: cost %d above the cap of %d", cost, maxBcryptCost)
		}
		return nil
	}
	return errUnknownHash
}

func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}

type argonParams struct {
	memory    uint32
	time      uint32
	threads   uint8
	salt, key []byte
	keyLen    uint32
}

// parseArgon2id parses $argon2id$v=19$m=M,t=T,p=P$salt$key.
func parseArgon2id(hash string) (*argonParams, error) {
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[1] != "argon2id" {
		return nil, errors.New("argon2id: want $argon2id$v=19$m=M,t=T,p=P$salt$hash")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, fmt.Errorf("argon2id: version %q, want v=%d", parts[2], argon2.Version)
	}
	var p argonParams
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("argon2id: parameter %q", kv)
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > 255 {
				return nil, fmt.Errorf("argon2id: parameter %q", kv)
			}
			p.threads = uint8(n)
		default:
			return nil, fmt.Errorf("argon2id: parameter %q", kv)
		}
	}
	switch {
	case p.time < 1 || p.time > maxArgonTime:
		return nil, fmt.Errorf("argon2id: t=%d out of 1-%d", p.time, maxArgonTime)
	case p.threads < 1 || p.threads > maxArgonThreads:
		return nil, fmt.Errorf("argon2id: p=%d out of 1-%d", p.threads, maxArgonThreads)
	case p.memory < 8*uint32(p.threads) || p.memory > maxArgonMemory:
		return nil, fmt.Errorf("argon2id: m=%d out of %d-%d", p.memory, 8*uint32(p.threads), maxArgonMemory)
	}
	var err error
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return nil, errors.New("argon2id: bad salt")
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 128 {
		return nil, errors.New("argon2id: bad hash")
	}
	p.keyLen = uint32(len(p.key))
	return &p, nil
}

// Hasher verifies passwords with at most a fixed number of hash
// computations at once, and so bounds what a login flood can claim: the
// memory of the argon2id computations in progress is at most the slots
// times the largest memory cost in use (maxArgonMemory at worst). A
// request that finds every slot taken waits in its client address's
// queue, the addresses taking turns (see slots), and the wait honours
// ctx, so a client that hangs up stops costing anything. A password
// found in the verified-credentials cache does not wait at all.
type Hasher struct {
	slots *slots
	cache *verifiedCache
	// compute runs one full-cost verification: verifyHash, or a test's
	// counter around it.
	compute func(hash, password string) (bool, error)
}

// NewHasher returns a Hasher running at most n verifications at once.
func NewHasher(n int) *Hasher {
	if n < 1 {
		n = 1
	}
	return &Hasher{slots: newSlots(n), cache: newVerifiedCache(), compute: verifyHash}
}

// Verify reports whether password matches hash. A hash in no supported
// format, or beyond the cost caps, is an error; a mismatch is (false, nil).
// It is VerifyFrom with no client address.
func (h *Hasher) Verify(ctx context.Context, hash, password string) (bool, error) {
	return h.VerifyFrom(ctx, netip.Addr{}, hash, password)
}

// VerifyFrom is Verify for a request from the client address from,
// which waits for a slot in from's queue. When too many requests wait,
// for from or in all, it fails at once with an error.
func (h *Hasher) VerifyFrom(ctx context.Context, from netip.Addr, hash, password string) (bool, error) {
	return h.verify(ctx, from, hash, password, true)
}

// verify is VerifyFrom; with useCache false it neither consults nor
// fills the verified-credentials cache, and so always costs one full
// verification.
func (h *Hasher) verify(ctx context.Context, from netip.Addr, hash, password string, useCache bool) (bool, error) {
	// An over-long password is still hashed (truncated), so that the
	// time taken tells nothing, and then refused.
	tooLong := len(password) > maxPassword
	if tooLong {
		password = password[:maxPassword]
	}
	if err := CheckHash(hash); err != nil { // the format and the cost caps
		return false, err
	}
	useCache = useCache && !tooLong
	if useCache && h.cache.hit(hash, password) {
		return true, nil
	}
	if err := h.slots.acquire(ctx, queueKey(from)); err != nil {
		return false, err
	}
	defer h.slots.release()
	ok, err := h.compute(hash, password)
	if ok && useCache && err == nil {
		h.cache.add(hash, password)
	}
	return ok && !tooLong, err
}

// verifyHash runs one full-cost verification of password against hash.
func verifyHash(hash, password string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		p, err := parseArgon2id(hash)
		if err != nil {
			return false, err
		}
		key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, p.keyLen)
		return subtle.ConstantTimeCompare(key, p.key) == 1, nil
	case isBcrypt(hash):
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword), errors.Is(err, bcrypt.ErrPasswordTooLong):
			return false, nil
		}
		return false, fmt.Errorf("bcrypt: %w", err)
	}
	return false, errUnknownHash
}
