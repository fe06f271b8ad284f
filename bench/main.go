// Command bench compares ferry with vsftpd, Pure-FTPd and ProFTPD on
// loopback, and with the machine's own limit for the same bytes.
//
//	bench/run.sh [flags]        install the peers, then go run ./bench
//	go run ./bench -runs 1 -size 64MiB -only dl-pasv,login-anon
//
// It must run as root (the peers drop privileges to the bench user). Every
// server is started once with equivalent settings (see servers.go); each
// run then takes every workload in turn, and within a workload every
// server and the machine-limit measurement in an order rotated from run
// to run; the table shows medians over the runs. See bench/RESULTS.md.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

type options struct {
	runs         int
	only         map[string]bool // workload names; empty: all
	servers      []string
	size         int64
	parSize      int64
	parallel     int
	files        int
	listEntries  int
	hugeEntries  int
	idle         []int
	forkCap      int
	loginWorkers int
	loginTime    time.Duration
	work         string
	ferryBin     string
	profile      string
	hold         bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := &options{}
	var only, servers, size, parSize, idle string
	fs.IntVar(&o.runs, "runs", 5, "runs; each figure is the median over them")
	fs.StringVar(&only, "only", "", "comma-separated workloads: dl-pasv, ul-pasv, dl-active, dl-tls, small-files, parallel, login-anon, login-pass, list, huge-list, idle (default all)")
	fs.StringVar(&servers, "servers", strings.Join(serverNames, ","), "comma-separated servers to compare")
	fs.StringVar(&size, "size", "1GiB", "size of the single-file transfers")
	fs.StringVar(&parSize, "par-size", "20MiB", "file size of each parallel client")
	fs.IntVar(&o.parallel, "parallel", 50, "parallel clients")
	fs.IntVar(&o.files, "files", 2000, "4 KiB files downloaded in one session")
	fs.IntVar(&o.listEntries, "list-entries", 20000, "entries of the LIST/MLSD directory")
	fs.IntVar(&o.hugeEntries, "huge-entries", 1000000, "entries of the huge directory")
	fs.StringVar(&idle, "idle", "100,10000", "comma-separated idle session counts")
	fs.IntVar(&o.forkCap, "fork-cap", 2000, "most idle sessions opened on a server that forks per session (the total is scaled beyond)")
	fs.IntVar(&o.loginWorkers, "login-workers", 8, "concurrent clients of the login workloads")
	fs.DurationVar(&o.loginTime, "login-time", 3*time.Second, "how long each login measurement runs")
	fs.StringVar(&o.work, "work", "/var/tmp/ferry-bench", "work directory: data sets (kept), configs, logs")
	fs.StringVar(&o.ferryBin, "ferry", "", "ferry binary (default: go build ./cmd/ferry into the work directory)")
	fs.StringVar(&o.profile, "profile", "", "run ferry in-process and write CPU and heap profiles into this directory (memory figures then include the load generator)")
	fs.BoolVar(&o.hold, "hold", false, "start the servers, print their addresses and wait for an interrupt (to look at them by hand)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.size, err = parseSize(size); err != nil {
		return nil, fmt.Errorf("-size: %w", err)
	}
	if o.parSize, err = parseSize(parSize); err != nil {
		return nil, fmt.Errorf("-par-size: %w", err)
	}
	for _, f := range strings.Split(idle, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-idle: bad count %q", f)
		}
		o.idle = append(o.idle, n)
	}
	o.only = map[string]bool{}
	for _, w := range strings.Split(only, ",") {
		if w = strings.TrimSpace(w); w != "" {
			o.only[w] = true
		}
	}
	for _, s := range strings.Split(servers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			if !slices.Contains(serverNames, s) {
				return nil, fmt.Errorf("-servers: unknown %q", s)
			}
			o.servers = append(o.servers, s)
		}
	}
	if o.runs < 1 || o.parallel < 1 || o.files < 1 || o.listEntries < 1 || o.hugeEntries < 1 || o.loginWorkers < 1 {
		return nil, errors.New("counts must be positive")
	}
	return o, nil
}

// parseSize reads "1GiB", "64MiB", "512KiB" or a plain byte count.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// limitOf names the machine-limit measurement each workload is paired with.
var limitOf = map[string]string{
	"dl-pasv": "sendfile", "dl-active": "sendfile", "ul-pasv": "receive",
	"dl-tls": "tls", "parallel": "sendfile-parallel",
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("must run as root: the peers drop privileges to the bench user (use bench/run.sh)")
	}
	e, err := setup(o)
	if err != nil {
		return err
	}
	b := &bench{env: e, opts: o, notes: map[string]string{}}
	if b.tls, b.serverTLS, err = tlsConfigs(e); err != nil {
		return err
	}
	var wls []workload
	for _, w := range b.workloads() {
		if len(o.only) == 0 || o.only[w.name] {
			wls = append(wls, w)
		}
	}
	if len(wls) == 0 {
		return fmt.Errorf("-only %v names no workload", o.only)
	}
	need := map[string]bool{}
	for _, w := range wls {
		need[w.dataset] = true
		if w.name == "parallel" {
			need["parallel"] = true
		}
		if limitOf[w.name] == "sendfile" || limitOf[w.name] == "tls" {
			need["download"] = true
		}
	}
	if err := prepare(e, o, func(s string) bool { return need[s] }); err != nil {
		return fmt.Errorf("data sets: %w", err)
	}
	if o.profile != "" {
		stopProfile, err := startProfile(o.profile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}

	var servers []*ftpd
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for _, name := range o.servers {
		s, err := startServer(ctx, e, name)
		if err != nil {
			return err
		}
		servers = append(servers, s)
	}

	if o.hold {
		for _, s := range servers {
			fmt.Fprintf(stdout, "%-9s ftp://%s/ user %s password %s (pid %d, log %s)\n", s.name, s.addr, benchUser, benchPass, s.pid(), s.log)
		}
		<-ctx.Done()
		return nil
	}
	startLoad := loadavg()
	busy0, total0 := cpuTimes()
	self0 := procCPU(os.Getpid())
	began := time.Now()
	// samples[metric][server] are the figures of the runs; "limit" is the
	// machine-limit pseudo-server.
	samples := map[string]map[string][]float64{}
	add := func(id, who string, v float64) {
		if samples[id] == nil {
			samples[id] = map[string][]float64{}
		}
		samples[id][who] = append(samples[id][who], v)
	}
	failures := map[string]string{}
	var runLoads []string
	for r := range o.runs {
		runLoads = append(runLoads, loadavg())
		for _, w := range wls {
			order := append([]string{}, o.servers...)
			if limitOf[w.name] != "" {
				order = append(order, "limit")
			}
			rot := r % len(order)
			order = append(order[rot:], order[:rot]...)
			for _, who := range order {
				if err := ctx.Err(); err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "bench: run %d/%d %-11s %-9s load %s\n", r+1, o.runs, w.name, who, loadavg())
				if who == "limit" {
					lim, err := b.limits(ctx, map[string]bool{limitOf[w.name]: true})
					if err != nil {
						return fmt.Errorf("machine limit for %s: %w", w.name, err)
					}
					for k, v := range lim {
						add("limit:"+k, "limit", v)
					}
					continue
				}
				s := servers[slices.Index(o.servers, who)]
				res, err := w.run(ctx, b, s)
				switch {
				case errors.Is(err, errSkip):
					failures[w.name+" "+who] = "not supported"
				case err != nil:
					failures[w.name+" "+who] = err.Error()
					fmt.Fprintf(os.Stderr, "bench: %s on %s: %v\n", w.name, who, err)
				}
				for k, v := range res {
					add(k, who, v)
				}
			}
		}
	}
	elapsed := time.Since(began)
	busy1, total1 := cpuTimes()
	own := procCPU(os.Getpid()) - self0
	for _, s := range servers {
		if s.cmd != nil {
			own += procCPU(s.pid())
		}
	}
	endLoad := loadavg()

	rep := report{
		opts: o, servers: o.servers, metrics: b.metrics(), samples: samples, failures: failures, notes: b.notes,
		hashes: map[string]string{}, elapsed: elapsed, startLoad: startLoad, endLoad: endLoad, runLoads: runLoads,
	}
	if total1 > total0 {
		// Both are in jiffies summed over every CPU.
		rep.busy = 100 * float64(busy1-busy0) / float64(total1-total0)
		rep.otherBusy = max(0, 100*float64(busy1-busy0-own)/float64(total1-total0))
	}
	for _, s := range servers {
		rep.hashes[s.name] = s.hash
	}
	rep.print(stdout)
	return nil
}

// setup creates the work directory, the account and the certificate, and
// builds ferry.
func setup(o *options) (*env, error) {
	work, err := filepath.Abs(o.work)
	if err != nil {
		return nil, err
	}
	e := &env{work: work, root: filepath.Join(work, "root")}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	if e.uid, e.gid, e.shadow, err = systemAccount(); err != nil {
		return nil, err
	}
	ftp, err := user.Lookup("ftp")
	if err != nil {
		return nil, fmt.Errorf("the anonymous account: %w (installing vsftpd creates the user ftp)", err)
	}
	e.anonRoot = ftp.HomeDir
	if err := os.MkdirAll(e.anonRoot, 0o755); err != nil {
		return nil, err
	}
	if e.cert, e.key, err = writeCert(work); err != nil {
		return nil, err
	}
	e.ferryBin = o.ferryBin
	if e.ferryBin == "" {
		e.ferryBin = filepath.Join(work, "bin", "ferry")
		build := exec.Command("go", "build", "-o", e.ferryBin, "./cmd/ferry")
		build.Dir, err = moduleRoot()
		if err != nil {
			return nil, err
		}
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/ferry: %v\n%s", err, out)
		}
	}
	return e, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the bench from inside ferry's module (or pass -ferry)")
	}
	return filepath.Dir(mod), nil
}

// writeCert writes a self-signed RSA certificate for 127.0.0.1: RSA
// because every peer takes it in its RSA slot.
func writeCert(dir string) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err1 := os.Stat(certFile); err1 == nil {
		if _, err2 := os.Stat(keyFile); err2 == nil {
			if _, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
				return certFile, keyFile, nil
			}
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "ferry bench"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	// The peers read the key before dropping privileges.
	return certFile, keyFile, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
}

// tlsConfigs returns the load generator's client config, which trusts the
// certificate and caches sessions for data-connection resumption, and the
// server config of the TLS machine limit.
func tlsConfigs(e *env) (client, srv *tls.Config, err error) {
	pair, err := tls.LoadX509KeyPair(e.cert, e.key)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pemBytes, _ := os.ReadFile(e.cert)
	pool.AppendCertsFromPEM(pemBytes)
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", ClientSessionCache: tls.NewLRUClientSessionCache(64)}
	srv = &tls.Config{Certificates: []tls.Certificate{pair}}
	return client, srv, nil
}

// median of a non-empty slice.
func median(v []float64) float64 {
	s := append([]float64{}, v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// report is the table and what is noted around it.
type report struct {
	opts                    *options
	servers                 []string
	metrics                 []metric
	samples                 map[string]map[string][]float64
	failures, notes, hashes map[string]string
	elapsed                 time.Duration
	startLoad, endLoad      string
	runLoads                []string
	busy, otherBusy         float64
}

func (r *report) print(w io.Writer) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "ferry bench: %d run(s), %s, %d CPUs, %s; %s\n", r.opts.runs, runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(), cpuModel(), host)
	fmt.Fprintf(w, "load average at start %s, at end %s, per run %s\n", r.startLoad, r.endLoad, strings.Join(r.runLoads, " | "))
	fmt.Fprintf(w, "CPU busy during the %s of the run: %.0f%%, of which other processes than the bench and its servers: %.0f%%\n\n",
		r.elapsed.Round(time.Second), r.busy, r.otherBusy)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	head := []string{"workload", "unit"}
	head = append(head, r.servers...)
	head = append(head, "ferry/best peer", "limit", "ferry/limit", "target", "met")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, m := range r.metrics {
		got := r.samples[m.id]
		if got == nil {
			continue
		}
		row := []string{m.what, m.unit}
		best, bestName := 0.0, ""
		for _, s := range r.servers {
			v, ok := got[s]
			if !ok || len(v) == 0 {
				row = append(row, "—")
				continue
			}
			x := median(v)
			row = append(row, fmtNum(x))
			if s == "ferry" {
				continue
			}
			if bestName == "" || (m.higher && x > best) || (!m.higher && x < best) {
				best, bestName = x, s
			}
		}
		fv, hasFerry := got["ferry"]
		ratio, limRatio := 0.0, 0.0
		if hasFerry && bestName != "" {
			f := median(fv)
			if m.higher {
				ratio = f / best
			} else if f > 0 {
				ratio = best / f
			} else {
				ratio = math.Inf(1)
			}
			row = append(row, fmt.Sprintf("%s× (%s)", fmtNum(ratio), bestName))
		} else {
			row = append(row, "—")
		}
		if lim, ok := r.samples["limit:"+m.limit]["limit"]; ok && m.limit != "" {
			l := median(lim)
			row = append(row, fmtNum(l))
			if hasFerry {
				limRatio = median(fv) / l
				row = append(row, fmt.Sprintf("%.2f×", limRatio))
			} else {
				row = append(row, "—")
			}
		} else {
			row = append(row, "", "")
		}
		row = append(row, m.target)
		met := ""
		if hasFerry && m.target != "" {
			ok := true
			if m.minPeer > 0 && bestName != "" && ratio < m.minPeer {
				ok = false
			}
			if m.minLimit > 0 && limRatio < m.minLimit {
				ok = false
			}
			if m.max > 0 && median(fv) >= m.max {
				ok = false
			}
			met = map[bool]string{true: "yes", false: "NO"}[ok]
		}
		row = append(row, met)
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()

	fmt.Fprintln(w, "\nRatios: higher is better for every row (for ms, s, KiB and MiB rows it is best peer ÷ ferry).")
	if r.opts.runs > 1 {
		r.printSpread(w)
	}
	if v := r.samples["limit:copy-parallel"]["limit"]; len(v) > 0 {
		// Why the parallel row can beat its sendfile limit: see
		// bench/RESULTS.md and the comment in limits.
		fmt.Fprintf(w, "The parallel row's streams copied with read and write of 128 KiB instead of sendfile: %s MiB/s (runs %s-%s)\n",
			fmtNum(median(v)), fmtNum(slices.Min(v)), fmtNum(slices.Max(v)))
	}
	if len(r.hashes) > 0 {
		fmt.Fprintln(w, "Password hashes of the login-pass user:")
		for _, s := range r.servers {
			fmt.Fprintf(w, "  %-9s %s\n", s, r.hashes[s])
		}
	}
	keys := func(m map[string]string) []string {
		ks := make([]string, 0, len(m))
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	if len(r.notes) > 0 {
		fmt.Fprintln(w, "Notes:")
		for _, k := range keys(r.notes) {
			fmt.Fprintf(w, "  %s: %s\n", k, r.notes[k])
		}
	}
	if len(r.failures) > 0 {
		fmt.Fprintln(w, "Not measured:")
		for _, k := range keys(r.failures) {
			msg := r.failures[k]
			if len(msg) > 200 {
				msg = msg[:200] + "…"
			}
			fmt.Fprintf(w, "  %s: %s\n", k, msg)
		}
	}
}

// printSpread lists, per workload, each server's lowest and highest
// figure over the runs: what a median hides, and what tells a tie from a
// result on a machine this noisy.
func (r *report) printSpread(w io.Writer) {
	fmt.Fprintln(w, "Spread over the runs (lowest-highest):")
	for _, m := range r.metrics {
		got := r.samples[m.id]
		if got == nil {
			continue
		}
		var parts []string
		for _, s := range r.servers {
			if v := got[s]; len(v) > 1 {
				lo, hi := slices.Min(v), slices.Max(v)
				parts = append(parts, fmt.Sprintf("%s %s-%s", s, fmtNum(lo), fmtNum(hi)))
			}
		}
		if lim := r.samples["limit:"+m.limit]["limit"]; m.limit != "" && len(lim) > 1 {
			parts = append(parts, fmt.Sprintf("limit %s-%s", fmtNum(slices.Min(lim)), fmtNum(slices.Max(lim))))
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "  %s: %s\n", m.what, strings.Join(parts, ", "))
		}
	}
}

func fmtNum(x float64) string {
	switch {
	case math.IsInf(x, 1):
		return "∞"
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
