package interop_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
)

// curlBase is the options every curl run shares: verbose (the transcript
// is asserted on), fail on errors, a time limit.
var curlBase = []string{"-v", "-sS", "--max-time", "60"}

func curl(t *testing.T, e *ftpEnv, args ...string) string {
	t.Helper()
	return e.mustRun("", "", testenv.Tool(t, "curl"), append(append([]string{}, curlBase...), args...)...)
}

// TestCurlTransferModes uploads and downloads one file in each
// data-connection mode and checks the commands curl used.
func TestCurlTransferModes(t *testing.T) {
	testenv.Tool(t, "curl")
	e := startServer(t, options{})
	for _, tc := range []struct {
		name  string
		flags []string
		wire  []string // commands that must appear in the transcript
	}{
		{"EPSV", nil, []string{"> EPSV", "229 Entering Extended Passive Mode (|||"}},
		{"PASV", []string{"--disable-epsv"}, []string{"> PASV", "227 Entering Passive Mode (127,0,0,1,"}},
		{"EPRT", []string{"-P", "127.0.0.1"}, []string{"> EPRT |1|127.0.0.1|", "200 EPRT command successful"}},
		{"PORT", []string{"-P", "127.0.0.1", "--disable-eprt"}, []string{"> PORT 127,0,0,1,", "200 PORT command successful"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(e.work, tc.name+".src")
			data := writeRandom(t, src, 300_001)
			out := curl(t, e, append(tc.flags, "-T", src, e.url("up-"+tc.name))...)
			mustContain(t, "curl upload transcript", out, append(tc.wire, "> STOR up-"+tc.name, "226 ")...)
			sameFile(t, filepath.Join(e.root, "up-"+tc.name), data)

			dst := filepath.Join(e.work, tc.name+".dst")
			out = curl(t, e, append(tc.flags, "-o", dst, e.url("up-"+tc.name))...)
			mustContain(t, "curl download transcript", out, append(tc.wire, "> RETR up-"+tc.name, "226 ")...)
			sameFile(t, dst, data)
		})
	}
}

// TestCurlTLS uses explicit (AUTH TLS) and implicit FTPS with protected
// data connections. Active mode with PROT P is left to lftp and ftplib:
// curl 7.87 and 7.88 (Debian 12 ships 7.88.1) never start the TLS
// handshake on an actively accepted data connection (curl issue #10666).
func TestCurlTLS(t *testing.T) {
	testenv.Tool(t, "curl")
	e := startServer(t, options{tls: true})
	data := writeRandom(t, filepath.Join(e.work, "src"), 1<<20+17)
	t.Run("explicit", func(t *testing.T) {
		out := curl(t, e, "--ssl-reqd", "-k", "-T", filepath.Join(e.work, "src"), e.url("explicit.bin"))
		// curl 7.x asks for AUTH SSL first; ferry treats it as AUTH TLS.
		mustContain(t, "curl transcript", out, "> AUTH ", "234 ", "> PBSZ 0", "> PROT P", "200 Protection level set to Private")
		sameFile(t, filepath.Join(e.root, "explicit.bin"), data)
		dst := filepath.Join(e.work, "explicit.dst")
		curl(t, e, "--ssl-reqd", "-k", "-o", dst, e.url("explicit.bin"))
		sameFile(t, dst, data)
	})
	t.Run("implicit", func(t *testing.T) {
		u := fmt.Sprintf("ftps://%s:%s@%s:%d/", ftptest.User, ftptest.Password, e.host, e.tlsPort)
		out := curl(t, e, "-k", "-T", filepath.Join(e.work, "src"), u+"implicit.bin")
		mustContain(t, "curl transcript", out, "SSL connection using", "> STOR implicit.bin", "226 ")
		sameFile(t, filepath.Join(e.root, "implicit.bin"), data)
		dst := filepath.Join(e.work, "implicit.dst")
		curl(t, e, "-k", "-o", dst, u+"implicit.bin")
		sameFile(t, dst, data)
	})
}

// TestCurlResume continues a download and an upload with -C -.
func TestCurlResume(t *testing.T) {
	testenv.Tool(t, "curl")
	e := startServer(t, options{})
	data := writeRandom(t, filepath.Join(e.root, "full.bin"), 777_777)

	dst := filepath.Join(e.work, "partial.dst")
	writeFile(t, dst, data[:123_456])
	out := curl(t, e, "-C", "-", "-o", dst, e.url("full.bin"))
	mustContain(t, "curl transcript", out, "> REST 123456", "350 ", "> RETR full.bin", "226 ")
	sameFile(t, dst, data)

	writeFile(t, filepath.Join(e.root, "partial-up.bin"), data[:500_000])
	src := filepath.Join(e.work, "full.src")
	writeFile(t, src, data)
	out = curl(t, e, "-C", "-", "-T", src, e.url("partial-up.bin"))
	mustContain(t, "curl transcript", out, "> SIZE partial-up.bin", "213 500000", "> APPE partial-up.bin", "226 ")
	sameFile(t, filepath.Join(e.root, "partial-up.bin"), data)
}

// TestCurlListings checks LIST and NLST output as curl receives it.
func TestCurlListings(t *testing.T) {
	testenv.Tool(t, "curl")
	e := startServer(t, options{})
	names := []string{"alpha.txt", "beta with space.bin", "grüße.txt", "sub"}
	for _, n := range names[:3] {
		writeFile(t, filepath.Join(e.root, "dir", n), []byte(n))
	}
	if err := os.MkdirAll(filepath.Join(e.root, "dir", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}

	list := curl(t, e, e.url("dir/"))
	mustContain(t, "curl transcript", list, "> LIST", "226 ")
	// ls -l lines: permissions, links, owner, group, size, date, name.
	lineRE := regexp.MustCompile(`(?m)^([-dl])[-rwxsStT]{9}\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\w{3}\s+\d{1,2}\s+(\d{2}:\d{2}|\d{4})\s+(.+?)\r?$`)
	got := map[string]string{}
	for _, m := range lineRE.FindAllStringSubmatch(list, -1) {
		got[m[4]] = m[1] + m[2]
	}
	for _, n := range names[:3] {
		if got[n] != fmt.Sprintf("-%d", len(n)) {
			t.Errorf("LIST entry %q = %q, want a file of %d bytes; output:\n%s", n, got[n], len(n), list)
		}
	}
	if !strings.HasPrefix(got["sub"], "d") {
		t.Errorf("LIST lacks directory sub; output:\n%s", list)
	}

	nlst := curl(t, e, "-l", e.url("dir/"))
	mustContain(t, "curl transcript", nlst, "> NLST", "226 ")
	for _, n := range names {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(n) + `\r?$`).MatchString(nlst) {
			t.Errorf("NLST lacks %q; output:\n%s", n, nlst)
		}
	}
}

// TestCurlQuote runs commands before (-Q CMD) and after (-Q -CMD) a
// transfer.
func TestCurlQuote(t *testing.T) {
	testenv.Tool(t, "curl")
	e := startServer(t, options{})
	writeFile(t, filepath.Join(e.root, "doomed"), []byte("bye"))
	out := curl(t, e, "-Q", "MKD newdir", "-Q", "-DELE doomed", e.url("/"))
	mustContain(t, "curl transcript", out, "> MKD newdir", "257 ", "> DELE doomed", "250 ")
	if st, err := os.Stat(filepath.Join(e.root, "newdir")); err != nil || !st.IsDir() {
		t.Fatalf("MKD did not make a directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.root, "doomed")); !os.IsNotExist(err) {
		t.Fatalf("DELE left the file: %v", err)
	}
	// A refused quote command makes curl fail.
	res := e.run("", "", testenv.Tool(t, "curl"), append(append([]string{}, curlBase...), "-Q", "DELE no-such-file", e.url("/"))...)
	if res.code == 0 || !strings.Contains(res.out, "550") {
		t.Fatalf("DELE of a missing file: exit %d, want failure with 550; output:\n%s", res.code, res.out)
	}
}

// TestCurlBigRoundTrip moves 20 MiB of random bytes up and down.
func TestCurlBigRoundTrip(t *testing.T) {
	testenv.Tool(t, "curl")
	e := startServer(t, options{atomic: true})
	src := filepath.Join(e.work, "big.src")
	data := writeRandom(t, src, 20<<20)
	curl(t, e, "-T", src, e.url("big.bin"))
	sameFile(t, filepath.Join(e.root, "big.bin"), data)
	dst := filepath.Join(e.work, "big.dst")
	curl(t, e, "-o", dst, e.url("big.bin"))
	sameFile(t, dst, data)
	// Atomic uploads leave no temporary behind.
	ents, _ := os.ReadDir(e.root)
	if len(ents) != 1 {
		t.Fatalf("root holds %d entries after an atomic upload, want 1: %v", len(ents), ents)
	}
}

// TestCurlPaths uploads into directories curl creates and fetches back
// with each of curl's ways of walking a path (a CWD per directory, one
// CWD, or none).
func TestCurlPaths(t *testing.T) {
	testenv.Tool(t, "curl")
	e := startServer(t, options{})
	src := filepath.Join(e.work, "src")
	data := writeRandom(t, src, 65_537)
	out := curl(t, e, "--ftp-create-dirs", "-T", src, e.url("x/y%20z/%C3%BC/file.bin"))
	mustContain(t, "curl transcript", out, "> MKD x", "> MKD y z", "> MKD ü", "> STOR file.bin")
	sameFile(t, filepath.Join(e.root, "x", "y z", "ü", "file.bin"), data)
	for _, method := range []string{"multicwd", "singlecwd", "nocwd"} {
		dst := filepath.Join(e.work, method)
		out := curl(t, e, "--ftp-method", method, "-o", dst, e.url("x/y%20z/%C3%BC/file.bin"))
		want := map[string]string{"multicwd": "> CWD ü", "singlecwd": "> CWD x/y z/ü", "nocwd": "> RETR x/y z/ü/file.bin"}[method]
		mustContain(t, "curl --ftp-method "+method+" transcript", out, want)
		sameFile(t, dst, data)
	}
}

// TestCurlAnonymous downloads without credentials and is refused an upload.
func TestCurlAnonymous(t *testing.T) {
	curlPath := testenv.Tool(t, "curl")
	e := startServer(t, options{})
	data := writeRandom(t, filepath.Join(e.root, "pub.bin"), 10_000)
	anon := fmt.Sprintf("ftp://%s:%d/", e.host, e.port)
	dst := filepath.Join(e.work, "pub.bin")
	out := curl(t, e, "-o", dst, anon+"pub.bin")
	mustContain(t, "curl transcript", out, "> USER anonymous", "230 ")
	sameFile(t, dst, data)

	res := e.run("", "", curlPath, append(append([]string{}, curlBase...), "-T", dst, anon+"upload.bin")...)
	if res.code == 0 || !strings.Contains(res.out, "< 550") {
		t.Fatalf("anonymous upload: exit %d, want a failure with 550; output:\n%s", res.code, res.out)
	}
	if _, err := os.Stat(filepath.Join(e.root, "upload.bin")); !os.IsNotExist(err) {
		t.Fatalf("anonymous upload left a file: %v", err)
	}
}

// TestCurlManyTransfers runs several curl processes at once, each moving
// several files over one control connection, so that passive ports are
// taken and given back while others are in use.
func TestCurlManyTransfers(t *testing.T) {
	curlPath := testenv.Tool(t, "curl")
	e := startServer(t, options{})
	const clients, files = 6, 5
	want := map[string][]byte{}
	for i := 0; i < files; i++ {
		name := fmt.Sprintf("f%d.bin", i)
		want[name] = writeRandom(t, filepath.Join(e.root, name), 512<<10+i)
	}
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		go func() {
			args := append([]string{}, curlBase...)
			for i := 0; i < files; i++ {
				args = append(args, "-o", filepath.Join(e.work, fmt.Sprintf("c%d-f%d.bin", c, i)), e.url(fmt.Sprintf("f%d.bin", i)))
			}
			res := e.runQuiet(curlPath, args...)
			if res.code != 0 {
				errs <- fmt.Errorf("client %d: exit %d; output:\n%s", c, res.code, res.out)
				return
			}
			if n := strings.Count(res.out, "> EPSV"); n != files {
				errs <- fmt.Errorf("client %d: %d EPSV commands, want %d", c, n, files)
				return
			}
			if n := strings.Count(res.out, "> USER "); n != 1 {
				errs <- fmt.Errorf("client %d: logged in %d times, want once (connection reuse)", c, n)
				return
			}
			errs <- nil
		}()
	}
	for c := 0; c < clients; c++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for c := 0; c < clients; c++ {
		for i := 0; i < files; i++ {
			sameFile(t, filepath.Join(e.work, fmt.Sprintf("c%d-f%d.bin", c, i)), want[fmt.Sprintf("f%d.bin", i)])
		}
	}
}

// TestCurlRange fetches byte ranges: from an offset (REST) and a bounded
// range, where curl stops reading early and the server must cope with
// the data connection closing under it.
func TestCurlRange(t *testing.T) {
	testenv.Tool(t, "curl")
	e := startServer(t, options{})
	data := writeRandom(t, filepath.Join(e.root, "r.bin"), 5<<20)
	for _, tc := range []struct {
		rng        string
		start, end int
	}{
		{"1000-", 1000, len(data)},
		{"0-99", 0, 100},
		{"4096-8191", 4096, 8192},
	} {
		dst := filepath.Join(e.work, "range-"+tc.rng)
		out := curl(t, e, "-r", tc.rng, "-o", dst, e.url("r.bin"))
		if tc.start > 0 {
			mustContain(t, "curl -r transcript", out, fmt.Sprintf("> REST %d", tc.start))
		}
		sameFile(t, dst, data[tc.start:tc.end])
	}
	// curl ends a bounded range with ABOR: RFC 959 wants 426 for the
	// cut transfer, then 226 for the ABOR. (curl then closes the
	// connection by design, "partial download completed", so reuse
	// after ABOR is checked with ftplib instead.)
	// The file is far larger than socket buffers (sparse, so it costs no
	// disk), so the transfer cannot have ended before the ABOR.
	huge, err := os.Create(filepath.Join(e.root, "huge.bin"))
	if err == nil {
		err = huge.Truncate(1 << 30)
		huge.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(e.work, "cut")
	out := curl(t, e, "-r", "0-9", "-o", dst, e.url("huge.bin"))
	if !regexp.MustCompile(`> ABOR\r?\n(?s:.*)< 426 (?s:.*)< 226 `).MatchString(out) {
		t.Errorf("curl transcript lacks ABOR answered by 426 then 226:\n%s", out)
	}
	sameFile(t, dst, make([]byte, 10))
}

// TestCurlShutdownLetsTransferFinish starts a slow download, shuts the
// server down while it runs, and checks the file still arrives whole.
func TestCurlShutdownLetsTransferFinish(t *testing.T) {
	curlPath := testenv.Tool(t, "curl")
	// The server sends at 256 KiB/s, so the download lasts seconds.
	e := startServer(t, options{downloadRate: 256 << 10})
	data := writeRandom(t, filepath.Join(e.root, "slow.bin"), 1<<20)
	dst := filepath.Join(e.work, "slow.bin")
	started := e.ts.OnLog("verb=RETR")
	done := make(chan result, 1)
	go func() {
		done <- e.runQuiet(curlPath, append(append([]string{}, curlBase...), "-o", dst, e.url("slow.bin"))...)
	}()
	select {
	case <-started:
	case res := <-done:
		t.Fatalf("curl ended before RETR: exit %d\n%s", res.code, res.out)
	}
	// curl cannot have the whole file yet; if it had, the test would
	// prove nothing.
	if st, err := os.Stat(dst); err == nil && st.Size() == int64(len(data)) {
		t.Fatal("the download finished before Shutdown; the server rate limit did not hold")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	res := <-done
	if res.code != 0 {
		t.Fatalf("curl exit %d:\n%s", res.code, res.out)
	}
	mustContain(t, "curl transcript", res.out, "226 ")
	sameFile(t, dst, data)
	// A new client is turned away.
	res = e.runQuiet(curlPath, append(append([]string{}, curlBase...), e.url("slow.bin"))...)
	if res.code == 0 {
		t.Fatalf("curl after Shutdown succeeded:\n%s", res.out)
	}
}

// TestCurlASCII transfers in TYPE A (curl -B). On the wire lines end in
// CRLF (checked byte for byte by the ftplib suite): curl turns them back
// into LF on download, and sends LF lines as CRLF on upload, which the
// server stores with LF (RFC 959 3.1.1.1: the receiver converts to its
// own end of line). Both round trips must give back the original bytes.
func TestCurlASCII(t *testing.T) {
	testenv.Tool(t, "curl")
	e := startServer(t, options{})
	writeFile(t, filepath.Join(e.root, "unix.txt"), []byte("one\ntwo\n\nthree"))
	dst := filepath.Join(e.work, "unix.txt")
	out := curl(t, e, "-B", "-o", dst, e.url("unix.txt"))
	mustContain(t, "curl transcript", out, "> TYPE A", "150 Opening ASCII mode", "226 ")
	sameFile(t, dst, []byte("one\ntwo\n\nthree"))

	src := filepath.Join(e.work, "up.txt")
	writeFile(t, src, []byte("x\ny\n\nz"))
	curl(t, e, "-B", "-T", src, e.url("up.txt"))
	sameFile(t, filepath.Join(e.root, "up.txt"), []byte("x\ny\n\nz"))
}

// TestCurlBigListing lists a directory of several thousand entries, more
// than one batch of the server's directory reader, by NLST and LIST.
func TestCurlBigListing(t *testing.T) {
	testenv.Tool(t, "curl")
	e := startServer(t, options{})
	const n = 3000
	dir := filepath.Join(e.root, "many")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("entry-%05d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, flags := range [][]string{{"-l"}, nil} {
		out := e.mustRun("", "", testenv.Tool(t, "curl"), append(append([]string{"-sS", "--max-time", "60"}, flags...), e.url("many/"))...)
		seen := map[string]bool{}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) > 0 && strings.HasPrefix(f[len(f)-1], "entry-") {
				seen[f[len(f)-1]] = true
			}
		}
		if len(seen) != n {
			t.Errorf("curl %v listed %d distinct entries, want %d", flags, len(seen), n)
		}
	}
}

// TestCurlIPv6 runs over ::1, where only the RFC 2428 commands work:
// EPSV for passive, EPRT with protocol 2 for active.
func TestCurlIPv6(t *testing.T) {
	testenv.Tool(t, "curl")
	e := startServer(t, options{ipv6: true})
	src := filepath.Join(e.work, "v6.src")
	data := writeRandom(t, src, 200_003)
	out := curl(t, e, "-g", "-T", src, e.url("v6.bin"))
	mustContain(t, "curl transcript", out, "> EPSV", "229 ", "226 ")
	sameFile(t, filepath.Join(e.root, "v6.bin"), data)

	dst := filepath.Join(e.work, "v6.dst")
	out = curl(t, e, "-g", "-P", "::1", "-o", dst, e.url("v6.bin"))
	mustContain(t, "curl transcript", out, "> EPRT |2|::1|", "200 EPRT command successful", "226 ")
	sameFile(t, dst, data)

	// PASV cannot name an IPv6 address (curl never sends it over IPv6,
	// even with --disable-epsv, so a raw client asks): 501 and the
	// protocol to use, never an IPv4 address. 501, not 522: that is
	// EPSV's and EPRT's reply (RFC 2428).
	c := ftptest.Dial(t, e.addr())
	c.Login(ftptest.User, ftptest.Password)
	if msg := c.Want(501, "PASV"); !strings.Contains(msg, "EPSV") {
		t.Fatalf("PASV reply %q does not point to EPSV", msg)
	}
	if msg := c.Want(229, "EPSV"); !strings.Contains(msg, "(|||") {
		t.Fatalf("EPSV reply %q", msg)
	}
	c.Want(522, "EPSV 1")
	// An IPv4 target is another host than this IPv6 client: refused,
	// as unsupported (522) or as a bounce (501).
	if code, msg := c.Cmd("EPRT |1|127.0.0.1|2000|"); code != 501 && code != 522 {
		t.Fatalf("EPRT to IPv4 from an IPv6 client: %d %q, want 501 or 522", code, msg)
	}
}
