package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/client"
	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/peertest"
)

var peers = []struct {
	name  string
	start func(testing.TB, peertest.Options) *peertest.Peer
	mlsd  bool // advertises MLST, so List uses MLSD
}{
	{"vsftpd", peertest.Vsftpd, false},
	{"pure-ftpd", peertest.PureFTPd, true},
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// login dials p and logs in; the connection is closed when the test ends.
func login(t *testing.T, p *peertest.Peer, opts ...client.Option) *client.Conn {
	t.Helper()
	ctx := testCtx(t)
	opts = append([]client.Option{client.WithTimeout(20 * time.Second)}, opts...)
	c, err := client.Dial(ctx, p.Addr, opts...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(ctx, p.User, p.Password); err != nil {
		t.Fatalf("Login: %v", err)
	}
	return c
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

func readRoot(t *testing.T, p *peertest.Peer, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.Root, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPeerFileOperations(t *testing.T) {
	const size = 5 << 20
	data := randomBytes(t, size)
	for _, pc := range peers {
		t.Run(pc.name, func(t *testing.T) {
			p := pc.start(t, peertest.Options{})
			c := login(t, p)
			ctx := testCtx(t)

			t.Run("put-get", func(t *testing.T) {
				n, err := c.Store(ctx, "big.bin", bytes.NewReader(data), 0)
				if err != nil || n != size {
					t.Fatalf("Store = %d, %v", n, err)
				}
				if sum(readRoot(t, p, "big.bin")) != sum(data) {
					t.Fatal("uploaded file differs (sha256)")
				}
				var buf bytes.Buffer
				n, err = c.Retrieve(ctx, "big.bin", 0, &buf)
				if err != nil || n != size {
					t.Fatalf("Retrieve = %d, %v", n, err)
				}
				if sum(buf.Bytes()) != sum(data) {
					t.Fatal("downloaded file differs (sha256)")
				}
				if got, err := c.Size(ctx, "big.bin"); err != nil || got != size {
					t.Fatalf("Size = %d, %v", got, err)
				}
				s := sum(data)
				if checked, err := c.Verify(ctx, "big.bin", size, s[:]); err != nil || !slices.Contains(checked, "size") {
					t.Fatalf("Verify = %q, %v", checked, err)
				}
				if _, err := c.Verify(ctx, "big.bin", size-1, s[:]); !errors.Is(err, client.ErrVerification) {
					t.Fatalf("Verify with a wrong size = %v, want ErrVerification", err)
				}
			})

			t.Run("resume-download", func(t *testing.T) {
				p.WriteFile(t, "resume-get.bin", data)
				const off = 3<<20 + 17
				var buf bytes.Buffer
				n, err := c.Retrieve(ctx, "resume-get.bin", off, &buf)
				if err != nil || n != size-off {
					t.Fatalf("Retrieve from %d = %d, %v", off, n, err)
				}
				if sum(buf.Bytes()) != sum(data[off:]) {
					t.Fatal("resumed download differs")
				}
			})

			t.Run("resume-upload", func(t *testing.T) {
				const off = 2<<20 + 5
				if _, err := c.Store(ctx, "resume-put.bin", bytes.NewReader(data[:off]), 0); err != nil {
					t.Fatal(err)
				}
				n, err := c.Store(ctx, "resume-put.bin", bytes.NewReader(data[off:]), off)
				if err != nil || n != size-off {
					t.Fatalf("Store from %d = %d, %v", off, n, err)
				}
				if sum(readRoot(t, p, "resume-put.bin")) != sum(data) {
					t.Fatal("resumed upload differs")
				}
			})

			t.Run("append", func(t *testing.T) {
				if _, err := c.Store(ctx, "app.txt", strings.NewReader("hello "), 0); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Append(ctx, "app.txt", strings.NewReader("world")); err != nil {
					t.Fatal(err)
				}
				if got := string(readRoot(t, p, "app.txt")); got != "hello world" {
					t.Fatalf("after APPE: %q", got)
				}
			})

			t.Run("store-unique", func(t *testing.T) {
				name, _, err := c.StoreUnique(ctx, strings.NewReader("unique"))
				if err != nil {
					t.Fatal(err)
				}
				if name == "" {
					t.Fatal("StoreUnique found no file name in the replies")
				}
				if got := string(readRoot(t, p, filepath.Base(name))); got != "unique" {
					t.Fatalf("STOU file %q holds %q", name, got)
				}
			})

			t.Run("rename-delete", func(t *testing.T) {
				p.WriteFile(t, "r1.txt", []byte("r"))
				if err := c.Rename(ctx, "r1.txt", "r2.txt"); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(p.Root, "r2.txt")); err != nil {
					t.Fatal(err)
				}
				if err := c.Delete(ctx, "r2.txt"); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(p.Root, "r2.txt")); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("after DELE: %v", err)
				}
				err := c.Delete(ctx, "r2.txt")
				var rep *ftp.Reply
				if !errors.As(err, &rep) || rep.Code != ftp.CodeFileActionDenied {
					t.Fatalf("DELE of a missing file: %v, want a 550 reply", err)
				}
				// The negative reply left the session usable.
				if err := c.Noop(ctx); err != nil {
					t.Fatal(err)
				}
			})

			t.Run("mkdir-rmdir", func(t *testing.T) {
				if _, err := c.Mkdir(ctx, "sub dir"); err != nil {
					t.Fatal(err)
				}
				if st, err := os.Stat(filepath.Join(p.Root, "sub dir")); err != nil || !st.IsDir() {
					t.Fatalf("MKD made no directory: %v", err)
				}
				if err := c.Cwd(ctx, "sub dir"); err != nil {
					t.Fatal(err)
				}
				if wd, err := c.Pwd(ctx); err != nil || wd != "/sub dir" {
					t.Fatalf("Pwd = %q, %v", wd, err)
				}
				if err := c.Cdup(ctx); err != nil {
					t.Fatal(err)
				}
				if wd, err := c.Pwd(ctx); err != nil || wd != "/" {
					t.Fatalf("Pwd after CDUP = %q, %v", wd, err)
				}
				if err := c.Rmdir(ctx, "sub dir"); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(filepath.Join(p.Root, "sub dir")); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("after RMD: %v", err)
				}
			})

			t.Run("modtime", func(t *testing.T) {
				full := p.WriteFile(t, "old.txt", []byte("old"))
				when := time.Date(2019, 3, 4, 5, 6, 7, 0, time.UTC)
				if err := os.Chtimes(full, when, when); err != nil {
					t.Fatal(err)
				}
				got, err := c.ModTime(ctx, "old.txt")
				if err != nil || !got.Equal(when) {
					t.Fatalf("ModTime = %v, %v; want %v", got, err, when)
				}
				set := time.Date(2021, 12, 31, 23, 59, 58, 0, time.UTC)
				if err := c.SetModTime(ctx, "old.txt", set); err != nil {
					t.Fatal(err)
				}
				st, err := os.Stat(full)
				if err != nil || !st.ModTime().Equal(set) {
					t.Fatalf("mtime after SetModTime = %v, %v; want %v", st.ModTime(), err, set)
				}
			})

			t.Run("list", func(t *testing.T) {
				if err := os.Mkdir(filepath.Join(p.Root, "listdir"), 0o755); err != nil {
					t.Fatal(err)
				}
				p.WriteFile(t, "listdir/a file.txt", []byte("12345"))
				p.WriteFile(t, "listdir/b.bin", make([]byte, 70000))
				if err := os.Mkdir(filepath.Join(p.Root, "listdir", "inner"), 0o755); err != nil {
					t.Fatal(err)
				}
				entries, err := c.List(ctx, "listdir")
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]ftp.Entry{}
				for _, e := range entries {
					got[e.Name] = e
				}
				if len(got) != 3 {
					t.Fatalf("List = %+v, want 3 entries", entries)
				}
				if e := got["a file.txt"]; e.Type != ftp.EntryFile || e.Size != 5 {
					t.Errorf("a file.txt: %+v", e)
				}
				if e := got["b.bin"]; e.Type != ftp.EntryFile || e.Size != 70000 {
					t.Errorf("b.bin: %+v", e)
				}
				if e := got["inner"]; e.Type != ftp.EntryDir {
					t.Errorf("inner: %+v", e)
				}
				if mlsd := got["b.bin"].Facts != nil; mlsd != pc.mlsd {
					t.Errorf("listed with MLSD = %v, want %v", mlsd, pc.mlsd)
				}
				names, err := c.NameList(ctx, "listdir")
				if err != nil {
					t.Fatal(err)
				}
				for i, n := range names {
					names[i] = filepath.Base(n)
				}
				slices.Sort(names)
				if want := []string{"a file.txt", "b.bin", "inner"}; !slices.Equal(names, want) {
					t.Fatalf("NameList = %q, want %q", names, want)
				}
			})

			t.Run("stat-quote", func(t *testing.T) {
				lines, err := c.Stat(ctx, "")
				if err != nil || len(lines) == 0 {
					t.Fatalf("Stat = %q, %v", lines, err)
				}
				rep, err := c.Quote(ctx, "XYZZY x")
				if err != nil || rep.Code < 500 {
					t.Fatalf("Quote of an unknown command = %v, %v", rep, err)
				}
				if _, err := c.Quote(ctx, "NOOP\r\nDELE big.bin"); err == nil {
					t.Fatal("Quote sent a line with CRLF inside")
				}
				if err := c.Delete(ctx, "x\r\nDELE big.bin"); err == nil {
					t.Fatal("Delete sent an argument with CRLF inside")
				}
				if _, err := os.Stat(filepath.Join(p.Root, "big.bin")); err != nil {
					t.Fatal(err)
				}
			})

			if err := c.Quit(ctx); err != nil {
				t.Fatalf("Quit: %v", err)
			}
		})
	}
}

func TestPeerDataModes(t *testing.T) {
	modes := []struct {
		mode client.Mode
		cmd  string
	}{
		{client.ModeEPSV, "EPSV"},
		{client.ModePASV, "PASV"},
		{client.ModeEPRT, "EPRT"},
		{client.ModePORT, "PORT"},
		{client.ModePassive, "EPSV"},
		{client.ModeActive, "EPRT"},
		{client.ModeAuto, "EPSV"},
	}
	data := randomBytes(t, 300<<10)
	for _, pc := range peers {
		t.Run(pc.name, func(t *testing.T) {
			p := pc.start(t, peertest.Options{})
			p.WriteFile(t, "f.bin", data)
			for _, m := range modes {
				t.Run(m.mode.String(), func(t *testing.T) {
					checkTransfers(t, p, data, m.cmd, client.WithMode(m.mode))
				})
			}
		})
	}
}

// checkTransfers downloads f.bin, uploads it back under another name and
// lists the directory, checking that the data connection used cmd.
func checkTransfers(t *testing.T, p *peertest.Peer, data []byte, cmd string, opts ...client.Option) {
	t.Helper()
	ctx := testCtx(t)
	c := login(t, p, opts...)
	if st, ok := c.TLSState(); ok != p.TLS || ok && st.Version == 0 {
		t.Fatalf("TLSState = %v, %v; peer TLS %v", st.Version, ok, p.TLS)
	}
	var buf bytes.Buffer
	if _, err := c.Retrieve(ctx, "f.bin", 0, &buf); err != nil {
		t.Fatalf("Retrieve: %v (last data connection %+v)", err, c.LastData())
	}
	if sum(buf.Bytes()) != sum(data) {
		t.Fatal("downloaded file differs")
	}
	if d := c.LastData(); d.Command != cmd || d.Err != nil || d.Addr == "" {
		t.Fatalf("LastData = %+v, want command %s", d, cmd)
	}
	name := "up-" + strings.ReplaceAll(t.Name(), "/", "_")
	if _, err := c.Store(ctx, name, bytes.NewReader(data), 0); err != nil {
		t.Fatalf("Store: %v", err)
	}
	if sum(readRoot(t, p, name)) != sum(data) {
		t.Fatal("uploaded file differs")
	}
	entries, err := c.List(ctx, "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if !slices.ContainsFunc(entries, func(e ftp.Entry) bool { return e.Name == name && e.Size == int64(len(data)) }) {
		t.Fatalf("List has no %s: %+v", name, entries)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPeerTLS(t *testing.T) {
	data := randomBytes(t, 1<<20+3)
	cases := []struct {
		name     string
		start    func(testing.TB, peertest.Options) *peertest.Peer
		implicit bool
	}{
		{"vsftpd-explicit", peertest.Vsftpd, false},
		{"vsftpd-implicit", peertest.Vsftpd, true},
		{"pure-ftpd-explicit", peertest.PureFTPd, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.start(t, peertest.Options{TLS: !tc.implicit, ImplicitTLS: tc.implicit})
			p.WriteFile(t, "f.bin", data)
			tlsOpt := client.WithTLS(p.TLSConfig())
			if tc.implicit {
				tlsOpt = client.WithImplicitTLS(p.TLSConfig())
			}
			for _, m := range []struct {
				mode client.Mode
				cmd  string
			}{{client.ModePassive, "EPSV"}, {client.ModePASV, "PASV"}, {client.ModeActive, "EPRT"}} {
				t.Run(m.mode.String(), func(t *testing.T) {
					checkTransfers(t, p, data, m.cmd, tlsOpt, client.WithMode(m.mode))
				})
			}
		})
	}
}

func TestPeerTLSRequired(t *testing.T) {
	// The TLS-only peer must refuse a plain login, and the client must
	// report that as a login failure.
	p := peertest.Vsftpd(t, peertest.Options{TLS: true})
	ctx := testCtx(t)
	c, err := client.Dial(ctx, p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, p.User, p.Password); !errors.Is(err, client.ErrLogin) {
		t.Fatalf("plain login to a TLS-only server: %v, want ErrLogin", err)
	}
}

func TestPeerBadPassword(t *testing.T) {
	for _, pc := range peers {
		t.Run(pc.name, func(t *testing.T) {
			p := pc.start(t, peertest.Options{})
			ctx := testCtx(t)
			c, err := client.Dial(ctx, p.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Login(ctx, p.User, "wrong")
			var rep *ftp.Reply
			if !errors.Is(err, client.ErrLogin) || !errors.As(err, &rep) || rep.Code != ftp.CodeNotLoggedIn {
				t.Fatalf("bad password: %v, want ErrLogin with 530", err)
			}
		})
	}
}

func TestPeerDebugTranscript(t *testing.T) {
	p := peertest.Vsftpd(t, peertest.Options{})
	p.WriteFile(t, "f.bin", []byte("x"))
	var tr client.Transcript
	c := login(t, p, client.WithMode(client.ModePORT), client.WithDebug(tr.Hook))
	ctx := testCtx(t)
	if _, err := c.Retrieve(ctx, "f.bin", 0, new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	got := tr.String()
	for _, want := range []string{
		"220 ferry peertest vsftpd",
		"---> USER " + p.User,
		"331 ",
		"---> PASS XXXX",
		"230 ",
		"---> TYPE I",
		"---> PORT 127,0,0,1,",
		"200 PORT command successful",
		"---> RETR f.bin",
		"150 ",
		"226 ",
		"---> QUIT",
		"221 ",
	} {
		if !strings.Contains(got, "\n"+want) && !strings.HasPrefix(got, want) {
			t.Errorf("transcript lacks a line starting %q", want)
		}
	}
	if strings.Contains(got, p.Password) {
		t.Error("transcript shows the password")
	}
	if t.Failed() {
		t.Logf("transcript:\n%s", got)
	}
}
