package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// FixedAdvertiser always advertises addr: the public address of a server
// behind NAT with a static IP.
func FixedAdvertiser(addr netip.Addr) Advertiser { return fixedAdvertiser{addr.Unmap()} }

type fixedAdvertiser struct{ addr netip.Addr }

func (f fixedAdvertiser) Advertise(context.Context, netip.Addr, netip.Addr) (netip.Addr, error) {
	return f.addr, nil
}

// LocalAdvertiser advertises the control connection's local address,
// which is right when no NAT sits between server and clients.
func LocalAdvertiser() Advertiser { return localAdvertiser{} }

type localAdvertiser struct{}

func (localAdvertiser) Advertise(_ context.Context, local, _ netip.Addr) (netip.Addr, error) {
	return local.Unmap(), nil
}

// NetworkRule advertises Address to clients whose address is in Clients.
type NetworkRule struct {
	Clients netip.Prefix
	Address netip.Addr
}

// SplitHorizon advertises different addresses to different networks,
// typically the private address to the LAN and the public one to the
// rest. The first rule whose Clients contains the client's address
// wins; otherwise Default decides, or, when Default is nil, the control
// connection's local address is used.
type SplitHorizon struct {
	Rules   []NetworkRule
	Default Advertiser
}

// Advertise implements Advertiser.
func (s SplitHorizon) Advertise(ctx context.Context, local, remote netip.Addr) (netip.Addr, error) {
	remote = remote.Unmap()
	for _, r := range s.Rules {
		if r.Clients.Contains(remote) {
			return r.Address.Unmap(), nil
		}
	}
	if s.Default != nil {
		return s.Default.Advertise(ctx, local, remote)
	}
	return local.Unmap(), nil
}

// dnsRetry bounds how long a failed re-resolution keeps the last good
// address before trying again, when the interval is longer.
const dnsRetry = 30 * time.Second

// NewDNSAdvertiser advertises the IPv4 address of host, for a server
// behind a dynamic IP with a dynamic DNS name. The address is resolved
// on first use and again, on use, once it is older than interval;
// concurrent callers share one lookup. When a re-resolution fails the
// last good address stays in use. A nil resolver means net.DefaultResolver;
// an interval of zero or less means five minutes.
func NewDNSAdvertiser(host string, interval time.Duration, resolver *net.Resolver) Advertiser {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	lookup := func(ctx context.Context, host string) ([]netip.Addr, error) {
		return resolver.LookupNetIP(ctx, "ip4", host)
	}
	return newDNSAdvertiser(host, interval, lookup, time.Now)
}

func newDNSAdvertiser(host string, interval time.Duration, lookup func(context.Context, string) ([]netip.Addr, error), now func() time.Time) *dnsAdvertiser {
	return &dnsAdvertiser{host: host, interval: interval, lookup: lookup, now: now}
}

type dnsAdvertiser struct {
	host     string
	interval time.Duration
	lookup   func(context.Context, string) ([]netip.Addr, error)
	now      func() time.Time

	mu      sync.Mutex
	addr    netip.Addr    // last good address; invalid until the first success
	next    time.Time     // when addr is due for re-resolution
	pending chan struct{} // non-nil while a lookup runs; closed when it ends
	err     error         // outcome of the last lookup, for those waiting on it
}

// Advertise implements Advertiser.
func (d *dnsAdvertiser) Advertise(ctx context.Context, _, _ netip.Addr) (netip.Addr, error) {
	d.mu.Lock()
	for {
		if d.addr.IsValid() && (d.pending != nil || d.now().Before(d.next)) {
			// Fresh, or someone is refreshing it: the cached address
			// serves meanwhile.
			addr := d.addr
			d.mu.Unlock()
			return addr, nil
		}
		if d.pending == nil {
			break
		}
		// First resolution in progress: wait for it.
		wait := d.pending
		d.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return netip.Addr{}, fmt.Errorf("resolve %s: %w", d.host, context.Cause(ctx))
		}
		d.mu.Lock()
		if !d.addr.IsValid() && d.pending == nil && !abandoned(d.err) {
			err := d.err
			d.mu.Unlock()
			return netip.Addr{}, err
		}
		// Success, or the lookup was dropped by its caller's context:
		// look again.
	}
	done := make(chan struct{})
	d.pending = done
	d.mu.Unlock()

	addr, err := d.resolve(ctx)

	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending, d.err = nil, err
	close(done)
	now := d.now()
	if err == nil {
		d.addr, d.next = addr, now.Add(d.interval)
		return addr, nil
	}
	if d.addr.IsValid() {
		d.next = now.Add(min(d.interval, dnsRetry))
		return d.addr, nil
	}
	return netip.Addr{}, err
}

func (d *dnsAdvertiser) resolve(ctx context.Context) (netip.Addr, error) {
	addrs, err := d.lookup(ctx, d.host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve %s: %w", d.host, err)
	}
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("resolve %s: %w", d.host, errNoIPv4)
}

var errNoIPv4 = errors.New("no IPv4 address")

// abandoned reports whether a lookup ended because its caller gave up,
// which says nothing about the name.
func abandoned(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
