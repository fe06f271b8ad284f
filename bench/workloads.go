package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// A workload produces one or more metrics (rows of the table) per server
// per run.
type workload struct {
	name    string // for -only
	dataset string // what prepare must build ("" for nothing)
	run     func(ctx context.Context, b *bench, s *ftpd) (map[string]float64, error)
}

// metric is a row of the table.
type metric struct {
	id     string
	what   string
	unit   string
	higher bool   // higher is better
	limit  string // the machine-limit measurement this row is compared with
	target string // what the issue asks of ferry, as text
	// minPeer is the ratio against the best peer the target asks (0: none).
	minPeer float64
	// minLimit is the ratio against the machine's limit asked (0: none).
	minLimit float64
	// max is an absolute ceiling for ferry's figure (0: none).
	max float64
}

// bench holds what the workloads share.
type bench struct {
	env  *env
	opts *options
	tls  *tls.Config // the load generator's
	// serverTLS is the TLS machine limit's server side.
	serverTLS *tls.Config
	// notes collects one-off facts for the report (cipher suites, the
	// copy path), by key; guarded by mu.
	mu    sync.Mutex
	notes map[string]string
}

func (b *bench) note(k, v string) {
	b.mu.Lock()
	b.notes[k] = v
	b.mu.Unlock()
}

func (b *bench) workloads() []workload {
	return []workload{
		{"dl-pasv", "download", b.downloadWorkload("dl-pasv", passive, false)},
		{"ul-pasv", "", b.upload},
		{"dl-active", "download", b.downloadWorkload("dl-active", active, false)},
		{"dl-tls", "download", b.downloadWorkload("dl-tls", passive, true)},
		{"small-files", "small-files", b.smallFiles},
		{"parallel", "parallel", b.parallel},
		{"login-anon", "", b.logins("login-anon", "anonymous", "bench@example.com")},
		{"login-pass", "", b.logins("login-pass", benchUser, benchPass)},
		{"list", "list", b.listings},
		{"huge-list", "huge-list", b.hugeList},
		{"idle", "", b.idle},
	}
}

func (b *bench) metrics() []metric {
	o := b.opts
	ms := []metric{
		{id: "dl-pasv", what: fmt.Sprintf("%s download, passive", fmtBytes(o.size)), unit: "MiB/s", higher: true, limit: "sendfile", target: "≥1.0× peer, ≥0.9× limit", minPeer: 1, minLimit: 0.9},
		{id: "ul-pasv", what: fmt.Sprintf("%s upload, passive", fmtBytes(o.size)), unit: "MiB/s", higher: true, limit: "receive", target: "≥1.0× peer", minPeer: 1},
		{id: "dl-active", what: fmt.Sprintf("%s download, active", fmtBytes(o.size)), unit: "MiB/s", higher: true, limit: "sendfile", target: "≥1.0× peer", minPeer: 1},
		{id: "dl-tls", what: fmt.Sprintf("%s download, TLS (PROT P)", fmtBytes(o.size)), unit: "MiB/s", higher: true, limit: "tls", target: "≥1.0× peer", minPeer: 1},
		{id: "small-files", what: fmt.Sprintf("%d × 4 KiB files, one session", o.files), unit: "files/s", higher: true, target: "≥1.0× peer", minPeer: 1},
		{id: "small-files-cpu", what: "  server CPU per file", unit: "µs"},
		{id: "parallel", what: fmt.Sprintf("%d clients × %s download", o.parallel, fmtBytes(o.parSize)), unit: "MiB/s", higher: true, limit: "sendfile-parallel", target: "≥1.0× peer", minPeer: 1},
		{id: "login-anon", what: "anonymous logins", unit: "logins/s", higher: true, target: "≥2× peer", minPeer: 2},
		{id: "login-pass", what: "password logins (same user)", unit: "logins/s", higher: true, target: "≥2× peer", minPeer: 2},
		{id: "list", what: fmt.Sprintf("LIST of %d entries", o.listEntries), unit: "ms", target: "≥1.0× peer", minPeer: 1},
		{id: "mlsd", what: fmt.Sprintf("MLSD of %d entries", o.listEntries), unit: "ms", target: "≥1.0× peer", minPeer: 1},
		{id: "huge-list", what: fmt.Sprintf("LIST of %d entries", o.hugeEntries), unit: "s", target: "≥1.0× peer", minPeer: 1},
		{id: "huge-list-mem", what: "  server RSS growth during it", unit: "MiB", target: "< 64 MiB", max: 64},
		{id: "huge-list-peak", what: "  server RSS at its peak", unit: "MiB"},
	}
	for _, n := range o.idle {
		ms = append(ms,
			metric{id: fmt.Sprintf("idle-%d-pss", n), what: fmt.Sprintf("%d idle sessions: PSS per session", n), unit: "KiB", target: "≤ 20 KiB", max: 20},
			metric{id: fmt.Sprintf("idle-%d-rss", n), what: fmt.Sprintf("%d idle sessions: RSS per session", n), unit: "KiB"},
			metric{id: fmt.Sprintf("idle-%d-total", n), what: fmt.Sprintf("%d idle sessions: total PSS", n), unit: "MiB", target: ifs(n >= 10000, "< 200 MiB", ""), max: iff(n >= 10000, 200, 0)},
		)
	}
	return ms
}

func ifs(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

func iff(c bool, a, b float64) float64 {
	if c {
		return a
	}
	return b
}

// session logs the password user in, in binary mode, optionally over TLS.
func (b *bench) session(ctx context.Context, s *ftpd, secure bool) (*ftpConn, error) {
	c, err := dialFTP(ctx, s.addr)
	if err != nil {
		return nil, err
	}
	err = func() error {
		if secure {
			if err := c.secure(b.tls); err != nil {
				return err
			}
		}
		if err := c.login(benchUser, benchPass); err != nil {
			return err
		}
		if secure {
			if err := c.protect(); err != nil {
				return err
			}
		}
		_, _, err := c.cmd(200, "TYPE I")
		return err
	}()
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func mibps(n int64, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }

func (b *bench) downloadWorkload(id string, mode dataMode, secure bool) func(context.Context, *bench, *ftpd) (map[string]float64, error) {
	return func(ctx context.Context, b *bench, s *ftpd) (map[string]float64, error) {
		if secure && !s.tls {
			return nil, errSkip
		}
		c, err := b.session(ctx, s, secure)
		if err != nil {
			return nil, err
		}
		defer c.quit()
		buf := make([]byte, bufSize)
		sys0 := ioSyscalls(s.pid())
		start := time.Now()
		var cipher string
		n, err := c.transfer(ctx, mode, "RETR "+sizedName("big", b.opts.size), func(dc net.Conn) (int64, error) {
			if tc, ok := dc.(*tls.Conn); ok {
				st := tc.ConnectionState()
				cipher = tls.VersionName(st.Version) + " " + tls.CipherSuiteName(st.CipherSuite)
			}
			return discard(dc, buf)
		})
		d := time.Since(start)
		if err != nil {
			return nil, err
		}
		if n != b.opts.size {
			return nil, fmt.Errorf("RETR moved %d bytes, want %d", n, b.opts.size)
		}
		if cipher != "" {
			b.note("cipher "+s.name, cipher)
		}
		if s.name == "ferry" && s.cmd != nil && !secure {
			sys := ioSyscalls(s.pid()) - sys0
			b.note("syscalls "+id, fmt.Sprintf("%.1f", float64(sys)/float64(n>>20)))
		}
		return map[string]float64{id: mibps(n, d)}, nil
	}
}

// errSkip marks a workload a server cannot run (no TLS, no MLSD).
var errSkip = errors.New("not supported")

func (b *bench) upload(ctx context.Context, _ *bench, s *ftpd) (map[string]float64, error) {
	c, err := b.session(ctx, s, false)
	if err != nil {
		return nil, err
	}
	defer c.quit()
	name := uploadDir + "/u-" + s.name + ".bin"
	path := filepath.Join(b.env.root, filepath.FromSlash(name))
	defer os.Remove(path)
	buf := randomBuf()
	sys0 := ioSyscalls(s.pid())
	start := time.Now()
	n, err := c.transfer(ctx, passive, "STOR "+name, func(dc net.Conn) (int64, error) {
		return send(dc, buf, b.opts.size)
	})
	d := time.Since(start)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != b.opts.size {
		return nil, fmt.Errorf("uploaded file: %v (size %d, want %d)", err, sizeOf(fi), b.opts.size)
	}
	if s.name == "ferry" && s.cmd != nil {
		b.note("syscalls ul-pasv", fmt.Sprintf("%.1f", float64(ioSyscalls(s.pid())-sys0)/float64(n>>20)))
	}
	return map[string]float64{"ul-pasv": mibps(n, d)}, nil
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}

func randomBuf() []byte {
	buf := make([]byte, bufSize)
	for i := range buf {
		buf[i] = byte(i*7 + i>>8)
	}
	return buf
}

// smallFiles downloads the 4 KiB files one after the other in one
// session. Besides the rate it reports the server's CPU time per file:
// all of its threads, or for a server that forks, the session process
// (and any helper it forks), counted once the master has reaped it.
func (b *bench) smallFiles(ctx context.Context, _ *bench, s *ftpd) (map[string]float64, error) {
	procs := len(processTree(s.pid()))
	c, err := b.session(ctx, s, false)
	if err != nil {
		return nil, err
	}
	defer c.close()
	if _, _, err := c.cmd(250, "CWD %s", smallDir); err != nil {
		return nil, err
	}
	buf := make([]byte, bufSize)
	cpu0 := procCPU(s.pid()) + sessionCPU(s.pid())
	start := time.Now()
	for i := range b.opts.files {
		n, err := c.transfer(ctx, passive, "RETR "+fileName(i), func(dc net.Conn) (int64, error) { return discard(dc, buf) })
		if err != nil {
			return nil, fmt.Errorf("file %d: %w", i, err)
		}
		if n != smallBytes {
			return nil, fmt.Errorf("file %d: %d bytes, want %d", i, n, smallBytes)
		}
	}
	elapsed := time.Since(start)
	if err := c.quit(); err != nil {
		return nil, err
	}
	waitProcs(s.pid(), procs, 5*time.Second)
	cpu := procCPU(s.pid()) - cpu0
	files := float64(b.opts.files)
	return map[string]float64{
		"small-files":     files / elapsed.Seconds(),
		"small-files-cpu": float64(cpu) * 1e6 / float64(clockTicks) / files,
	}, nil
}

// parallel logs every client in first, then starts all downloads at once,
// so that login cost (password hashing) stays out of the throughput.
func (b *bench) parallel(ctx context.Context, _ *bench, s *ftpd) (map[string]float64, error) {
	n := b.opts.parallel
	conns := make([]*ftpConn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.quit()
			}
		}
	}()
	if err := forEach(n, 8, func(i int) error {
		c, err := b.session(ctx, s, false)
		conns[i] = c
		return err
	}); err != nil {
		return nil, err
	}
	var total atomic.Int64
	start := time.Now()
	err := forEach(n, n, func(i int) error {
		buf := make([]byte, bufSize)
		k, err := conns[i].transfer(ctx, passive, "RETR "+sizedName("par", b.opts.parSize), func(dc net.Conn) (int64, error) { return discard(dc, buf) })
		total.Add(k)
		if err == nil && k != b.opts.parSize {
			err = fmt.Errorf("client %d: %d bytes, want %d", i, k, b.opts.parSize)
		}
		return err
	})
	d := time.Since(start)
	if err != nil {
		return nil, err
	}
	return map[string]float64{"parallel": mibps(total.Load(), d)}, nil
}

// forEach runs f(0..n-1) on at most workers goroutines and returns the
// first error.
func forEach(n, workers int, f func(i int) error) error {
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(n, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n)) // stop handing out work
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// logins counts connect, USER, PASS, QUIT cycles of loginWorkers clients
// for loginTime.
func (b *bench) logins(id, user, pass string) func(context.Context, *bench, *ftpd) (map[string]float64, error) {
	return func(ctx context.Context, b *bench, s *ftpd) (map[string]float64, error) {
		var count atomic.Int64
		var once sync.Once
		var first error
		var wg sync.WaitGroup
		start := time.Now()
		deadline := start.Add(b.opts.loginTime)
		for range b.opts.loginWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					err := func() error {
						c, err := dialFTP(ctx, s.addr)
						if err != nil {
							return err
						}
						if err := c.login(user, pass); err != nil {
							c.close()
							return err
						}
						return c.quit()
					}()
					if err != nil {
						once.Do(func() { first = err })
						return
					}
					count.Add(1)
				}
			}()
		}
		wg.Wait()
		if first != nil {
			return nil, first
		}
		return map[string]float64{id: float64(count.Load()) / time.Since(start).Seconds()}, nil
	}
}

// listings times LIST and MLSD of the list directory, each on a fresh
// session, and checks that no entry is missing.
func (b *bench) listings(ctx context.Context, _ *bench, s *ftpd) (map[string]float64, error) {
	out := map[string]float64{}
	for _, verb := range []string{"LIST", "MLSD"} {
		d, _, err := b.list(ctx, s, verb, listDir, b.opts.listEntries, nil)
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[map[string]string{"LIST": "list", "MLSD": "mlsd"}[verb]] = float64(d.Milliseconds())
	}
	return out, nil
}

// list runs one listing of dir and returns how long it took; during it,
// sample (if non-nil) is called every few milliseconds.
func (b *bench) list(ctx context.Context, s *ftpd, verb, dir string, want int, sample func()) (time.Duration, int, error) {
	c, err := b.session(ctx, s, false)
	if err != nil {
		return 0, 0, err
	}
	defer c.quit()
	if _, _, err := c.cmd(250, "CWD %s", dir); err != nil {
		return 0, 0, err
	}
	if verb == "MLSD" {
		if code, _, err := c.cmd(2, "FEAT"); err != nil || code != 211 || !c.hasFeature("MLST") {
			return 0, 0, errSkip
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if sample != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(5 * time.Millisecond)
			defer t.Stop()
			for {
				sample()
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
	}
	buf := make([]byte, bufSize)
	var lines int
	start := time.Now()
	_, err = c.transfer(ctx, passive, verb, func(dc net.Conn) (int64, error) {
		var n int64
		var err error
		lines, n, err = countLines(dc, buf)
		return n, err
	})
	d := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		return 0, 0, err
	}
	if lines < want {
		return 0, 0, fmt.Errorf("%s listed %d lines, want at least %d", verb, lines, want)
	}
	return d, lines, nil
}

func (b *bench) hugeList(ctx context.Context, _ *bench, s *ftpd) (map[string]float64, error) {
	// A login whose password is not in the server's verified cache (its
	// entries last 10 minutes, shorter than a full run) allocates the
	// hash's memory: 64 MiB of argon2id for ferry. That belongs to the
	// login, not to the listing, so one login comes before the baseline.
	if c, err := b.session(ctx, s, false); err == nil {
		c.quit()
	}
	pid := s.pid()
	base := treeRSS(pid)
	var peak atomic.Int64
	peak.Store(base)
	d, _, err := b.list(ctx, s, "LIST", hugeDir, b.opts.hugeEntries, func() {
		if r := treeRSS(pid); r > peak.Load() {
			peak.Store(r)
		}
	})
	if err != nil {
		return nil, err
	}
	return map[string]float64{
		"huge-list":      d.Seconds(),
		"huge-list-mem":  float64(peak.Load()-base) / 1024,
		"huge-list-peak": float64(peak.Load()) / 1024,
	}, nil
}

// idle opens N anonymous logged-in sessions for each N of -idle and sums
// the memory of the server's processes. A session per process costs PIDs
// as well, so the forking peers are measured at no more than -fork-cap
// sessions and their total is scaled from their per-session figure.
func (b *bench) idle(ctx context.Context, _ *bench, s *ftpd) (map[string]float64, error) {
	out := map[string]float64{}
	for _, n := range b.opts.idle {
		measured := n
		if s.name != "ferry" && measured > b.opts.forkCap {
			measured = b.opts.forkCap
		}
		if s.maxSessions > 0 && measured > s.maxSessions {
			measured = s.maxSessions
		}
		if measured < n {
			b.note(fmt.Sprintf("scaled idle-%d %s", n, s.name), fmt.Sprintf("measured at %d sessions, total extrapolated", measured))
		}
		before := treeMemory(s.pid())
		conns := make([]*ftpConn, measured)
		err := forEach(measured, 16, func(i int) error {
			c, err := dialFTP(ctx, s.addr)
			if err != nil {
				return err
			}
			conns[i] = c
			return c.login("anonymous", "bench@example.com")
		})
		var after memory
		if err == nil {
			// Let the forking servers finish setting their sessions up.
			time.Sleep(500 * time.Millisecond)
			after = treeMemory(s.pid())
		}
		for _, c := range conns {
			if c != nil {
				c.quit()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%d sessions: %w", n, err)
		}
		pss := float64(after.PSS-before.PSS) / float64(measured)
		rss := float64(after.RSS-before.RSS) / float64(measured)
		out[fmt.Sprintf("idle-%d-pss", n)] = pss
		out[fmt.Sprintf("idle-%d-rss", n)] = rss
		out[fmt.Sprintf("idle-%d-total", n)] = (float64(before.PSS) + pss*float64(n)) / 1024
		// Sessions of forking servers end asynchronously; wait for their
		// processes to go before the next measurement.
		waitProcs(s.pid(), before.Procs, 30*time.Second)
	}
	return out, nil
}

// waitProcs waits until pid's tree has at most n processes.
func waitProcs(pid, n int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && len(processTree(pid)) > n {
		time.Sleep(50 * time.Millisecond)
	}
}
