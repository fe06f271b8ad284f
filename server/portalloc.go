package server

import (
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sync"
	"syscall"

	"github.com/ferry-ftp/ferry/ftp"
)

// errPortsExhausted means every port of the passive range is taken, by
// this process or another. The PASV handler answers 425 and logs it.
var errPortsExhausted = errors.New("no free port in the passive range")

// portAllocator hands out listening ports from an ftp.PortRange to passive
// data connections. It remembers which ports this process holds, so
// concurrent sessions never race for the same port, and skips ports the
// kernel refuses because another program holds them. It never steps
// outside the range and never lets the kernel pick a port (port 0): a
// firewall opened for the range would drop anything else.
type portAllocator struct {
	r    ftp.PortRange
	size int

	mu    sync.Mutex
	used  []uint64 // bit i set: port r.Min+i held by us; padding bits past size are set
	inUse int      // set bits below size, so a full range costs no scan
}

// newPortAllocator returns an allocator over r, or over
// DefaultPassivePorts when r is empty.
func newPortAllocator(r ftp.PortRange) *portAllocator {
	if r.Size() == 0 {
		r = DefaultPassivePorts
	}
	a := &portAllocator{r: r, size: r.Size()}
	a.used = make([]uint64, (a.size+63)/64)
	if pad := a.size % 64; pad != 0 {
		a.used[len(a.used)-1] = ^uint64(0) << pad
	}
	return a
}

// bindPort claims a port of the range and calls open with it until open
// succeeds, and returns that port, which the caller must release. The
// probe starts at a random offset and moves up (wrapping), so ports are
// spread over the range rather than piling up at its bottom. A port that
// open finds taken (EADDRINUSE, EACCES) is skipped; any other error ends
// the probe. When no port can be bound the error wraps errPortsExhausted.
func (a *portAllocator) bindPort(open func(port uint16) error) (uint16, error) {
	start := rand.IntN(a.size)
	left := a.size // offsets not yet probed in this call
	var lastErr error
	for left > 0 {
		off, dist, ok := a.claim(start, left)
		if !ok {
			break
		}
		start, left = off+1, left-dist-1
		port := a.r.Min + uint16(off)
		err := open(port)
		if err == nil {
			return port, nil
		}
		a.release(port)
		if !errors.Is(err, syscall.EADDRINUSE) && !errors.Is(err, syscall.EACCES) {
			// Not about this port (no such local address, out of
			// descriptors): no other port would do better.
			return 0, fmt.Errorf("passive listen: %w", err)
		}
		lastErr = err
	}
	if lastErr != nil {
		return 0, fmt.Errorf("%w %d-%d (last refusal: %w)", errPortsExhausted, a.r.Min, a.r.Max, lastErr)
	}
	return 0, fmt.Errorf("%w %d-%d", errPortsExhausted, a.r.Min, a.r.Max)
}

// claim marks the first free offset in the cyclic window of n offsets
// starting at start, and returns it with its distance from start. It
// skips 64 held ports at a time, so a busy 10,000-port range costs at
// most a few hundred word reads.
func (a *portAllocator) claim(start, n int) (off, dist int, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inUse == a.size {
		return 0, 0, false
	}
	start %= a.size
	for i := 0; i < n; {
		off := (start + i) % a.size
		w, b := off/64, uint(off%64)
		if free := ^a.used[w] >> b; free != 0 {
			tz := bits.TrailingZeros64(free)
			if i+tz >= n {
				return 0, 0, false
			}
			// Padding bits are set, so off+tz is inside the range.
			a.used[w] |= 1 << (b + uint(tz))
			a.inUse++
			return off + tz, i + tz, true
		}
		i += min(64-int(b), a.size-off) // to the next word, or wrap to 0
	}
	return 0, 0, false
}

// release gives port back. Releasing a port not held is a no-op.
func (a *portAllocator) release(port uint16) {
	if !a.r.Contains(port) {
		return
	}
	off := int(port - a.r.Min)
	w, bit := off/64, uint64(1)<<(off%64)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.used[w]&bit != 0 {
		a.used[w] &^= bit
		a.inUse--
	}
}
