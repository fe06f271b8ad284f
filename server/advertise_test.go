package server

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"
)

var mustAddr = netip.MustParseAddr

func TestFixedAndLocalAdvertiser(t *testing.T) {
	ctx := context.Background()
	local, remote := mustAddr("::ffff:10.0.0.5"), mustAddr("198.51.100.7")
	if got, err := FixedAdvertiser(mustAddr("203.0.113.9")).Advertise(ctx, local, remote); err != nil || got != mustAddr("203.0.113.9") {
		t.Errorf("fixed: %v, %v", got, err)
	}
	if got, err := LocalAdvertiser().Advertise(ctx, local, remote); err != nil || got != mustAddr("10.0.0.5") {
		t.Errorf("local: %v, %v; want the unmapped local address", got, err)
	}
}

func TestSplitHorizon(t *testing.T) {
	ctx := context.Background()
	rules := []NetworkRule{
		{Clients: netip.MustParsePrefix("10.1.0.0/16"), Address: mustAddr("10.1.0.1")},
		{Clients: netip.MustParsePrefix("10.0.0.0/8"), Address: mustAddr("10.0.0.1")},
		{Clients: netip.MustParsePrefix("192.168.0.0/16"), Address: mustAddr("192.168.1.10")},
		{Clients: netip.MustParsePrefix("2001:db8::/32"), Address: mustAddr("192.168.1.11")},
	}
	withDefault := SplitHorizon{Rules: rules, Default: FixedAdvertiser(mustAddr("203.0.113.5"))}
	noDefault := SplitHorizon{Rules: rules}
	local := mustAddr("::ffff:172.16.0.2")
	tests := []struct {
		sh     SplitHorizon
		remote string
		want   string
	}{
		{withDefault, "192.168.3.4", "192.168.1.10"},
		{withDefault, "::ffff:192.168.3.4", "192.168.1.10"},
		{withDefault, "10.1.2.3", "10.1.0.1"}, // first match wins over the wider rule
		{withDefault, "::ffff:10.2.2.3", "10.0.0.1"},
		{withDefault, "2001:db8::7", "192.168.1.11"},
		{withDefault, "198.51.100.7", "203.0.113.5"},
		{noDefault, "198.51.100.7", "172.16.0.2"},
		{noDefault, "::ffff:198.51.100.7", "172.16.0.2"},
	}
	for _, tt := range tests {
		got, err := tt.sh.Advertise(ctx, local, mustAddr(tt.remote))
		if err != nil || got != mustAddr(tt.want) {
			t.Errorf("remote %s: got %v, %v; want %s", tt.remote, got, err, tt.want)
		}
	}
}

// fakeDNS is a lookup whose answer the test sets, with a hand-moved clock.
type fakeDNS struct {
	mu    sync.Mutex
	addrs []netip.Addr
	err   error
	calls int
	now   time.Time
	gate  chan struct{} // if non-nil, lookups wait for it to close
	in    chan struct{} // if non-nil, told when a lookup starts
}

func (f *fakeDNS) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	f.calls++
	gate, in := f.gate, f.in
	f.mu.Unlock()
	if in != nil {
		in <- struct{}{}
	}
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if host != "ftp.example.net" {
		return nil, errors.New("wrong host " + host)
	}
	return f.addrs, f.err
}

func (f *fakeDNS) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeDNS) set(addrs []netip.Addr, err error, advance time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addrs, f.err = addrs, err
	f.now = f.now.Add(advance)
}

func (f *fakeDNS) lookups() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func TestDNSAdvertiserRefreshAndKeep(t *testing.T) {
	ctx := context.Background()
	f := &fakeDNS{now: time.Unix(1e9, 0)}
	d := newDNSAdvertiser("ftp.example.net", time.Hour, f.lookup, f.clock)
	ip := mustAddr("127.0.0.1")
	check := func(step, want string, lookups int) {
		t.Helper()
		got, err := d.Advertise(ctx, ip, ip)
		if err != nil || got != mustAddr(want) || f.lookups() != lookups {
			t.Fatalf("%s: got %v, %v after %d lookups; want %s after %d", step, got, err, f.lookups(), want, lookups)
		}
	}

	f.set(nil, errors.New("SERVFAIL"), 0)
	if got, err := d.Advertise(ctx, ip, ip); err == nil {
		t.Fatalf("first resolution failed but Advertise = %v", got)
	}
	f.set([]netip.Addr{mustAddr("2001:db8::1")}, nil, 0)
	if got, err := d.Advertise(ctx, ip, ip); !errors.Is(err, errNoIPv4) {
		t.Fatalf("only IPv6 known: Advertise = %v, %v", got, err)
	}

	f.set([]netip.Addr{mustAddr("2001:db8::1"), mustAddr("::ffff:198.51.100.1")}, nil, 0)
	check("first", "198.51.100.1", 3)
	f.set([]netip.Addr{mustAddr("198.51.100.2")}, nil, 59*time.Minute)
	check("cached", "198.51.100.1", 3)
	f.set(nil, nil, time.Minute)
	f.set([]netip.Addr{mustAddr("198.51.100.2")}, nil, 0)
	check("stale", "198.51.100.2", 4)

	f.set(nil, errors.New("SERVFAIL"), time.Hour)
	check("failed refresh keeps the last", "198.51.100.2", 5)
	check("no retry before dnsRetry", "198.51.100.2", 5)
	f.set([]netip.Addr{mustAddr("198.51.100.3")}, nil, dnsRetry)
	check("retry", "198.51.100.3", 6)
}

func TestDNSAdvertiserSharesLookups(t *testing.T) {
	ctx := context.Background()
	f := &fakeDNS{now: time.Unix(1e9, 0), addrs: []netip.Addr{mustAddr("198.51.100.1")}}
	d := newDNSAdvertiser("ftp.example.net", time.Hour, f.lookup, f.clock)
	ip := mustAddr("127.0.0.1")

	// First resolution: concurrent callers wait for the one lookup.
	f.gate, f.in = make(chan struct{}), make(chan struct{}, 16)
	var wg sync.WaitGroup
	results := make(chan netip.Addr, 8)
	for range 8 {
		wg.Go(func() {
			a, err := d.Advertise(ctx, ip, ip)
			if err != nil {
				t.Error(err)
			}
			results <- a
		})
	}
	<-f.in
	close(f.gate)
	wg.Wait()
	close(results)
	for a := range results {
		if a != mustAddr("198.51.100.1") {
			t.Errorf("got %v", a)
		}
	}
	if n := f.lookups(); n != 1 {
		t.Fatalf("%d lookups for concurrent first calls, want 1", n)
	}

	// A refresh in progress: other callers get the cached address at once.
	f.mu.Lock()
	f.gate = make(chan struct{})
	f.mu.Unlock()
	f.set([]netip.Addr{mustAddr("198.51.100.2")}, nil, 2*time.Hour)
	done := make(chan netip.Addr)
	go func() {
		a, _ := d.Advertise(ctx, ip, ip)
		done <- a
	}()
	<-f.in
	if a, err := d.Advertise(ctx, ip, ip); err != nil || a != mustAddr("198.51.100.1") {
		t.Fatalf("during a refresh: %v, %v; want the cached address", a, err)
	}
	close(f.gate)
	if a := <-done; a != mustAddr("198.51.100.2") {
		t.Fatalf("refresh returned %v", a)
	}
	if n := f.lookups(); n != 2 {
		t.Fatalf("%d lookups, want 2", n)
	}
}

func TestDNSAdvertiserCallerGivesUp(t *testing.T) {
	f := &fakeDNS{now: time.Unix(1e9, 0), addrs: []netip.Addr{mustAddr("198.51.100.1")}}
	f.gate, f.in = make(chan struct{}), make(chan struct{}, 16)
	d := newDNSAdvertiser("ftp.example.net", time.Hour, f.lookup, f.clock)
	ip := mustAddr("127.0.0.1")

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := d.Advertise(context.Background(), ip, ip)
		first <- err
	}()
	<-f.in
	cancel()
	if _, err := d.Advertise(ctx, ip, ip); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting caller with a cancelled context: %v", err)
	}
	close(f.gate)
	if err := <-first; err != nil {
		t.Fatalf("the lookup's own caller: %v", err)
	}
}

// TestNewDNSAdvertiser checks the wiring to net.Resolver with an address
// literal, which resolves without any query.
func TestNewDNSAdvertiser(t *testing.T) {
	d := NewDNSAdvertiser("192.0.2.44", time.Minute, nil)
	ip := mustAddr("127.0.0.1")
	if got, err := d.Advertise(context.Background(), ip, ip); err != nil || got != mustAddr("192.0.2.44") {
		t.Fatalf("Advertise = %v, %v", got, err)
	}
}
