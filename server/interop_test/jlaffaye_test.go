package interop_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/jlaffaye/ftp"
)

// TestJlaffaye uses the most common Go FTP client for the everyday
// operations, with EPSV and with PASV, plain and over explicit TLS.
func TestJlaffaye(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tls      bool
		noEPSV   bool
		wantWire string
	}{
		{"EPSV", false, false, "EPSV"},
		{"PASV", false, true, "PASV"},
		// jlaffaye/ftp, like ftplib and lftp, waits for 150 before the
		// data TLS handshake (see TestTLSDataHandshakeAfter150).
		{"TLS-EPSV", true, false, "EPSV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startServer(t, options{tls: tc.tls})
			var wire bytes.Buffer
			opts := []ftp.DialOption{
				ftp.DialWithTimeout(20 * time.Second),
				ftp.DialWithDisabledEPSV(tc.noEPSV),
				ftp.DialWithDebugOutput(&wire),
			}
			if tc.tls {
				opts = append(opts, ftp.DialWithExplicitTLS(&tls.Config{InsecureSkipVerify: true}))
			}
			c, err := ftp.Dial(e.addr(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Quit()
			if err := c.Login(ftptest.User, ftptest.Password); err != nil {
				t.Fatal(err)
			}
			if err := c.MakeDir("dir"); err != nil {
				t.Fatal(err)
			}
			if err := c.ChangeDir("dir"); err != nil {
				t.Fatal(err)
			}
			if d, err := c.CurrentDir(); err != nil || d != "/dir" {
				t.Fatalf("CurrentDir = %q, %v; want /dir", d, err)
			}
			data := writeRandom(t, filepath.Join(e.work, "src"), 3<<20+11)
			if err := c.Stor("f.bin", bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			sameFile(t, filepath.Join(e.root, "dir", "f.bin"), data)
			if err := c.Append("f.bin", strings.NewReader("tail")); err != nil {
				t.Fatal(err)
			}
			data = append(data, "tail"...)
			sameFile(t, filepath.Join(e.root, "dir", "f.bin"), data)

			all, err := c.List("/dir")
			if err != nil {
				t.Fatal(err)
			}
			// MLSD may name the directory itself (type=cdir, RFC 3659
			// 7.5.1); jlaffaye/ftp hands it on as ".", callers skip it.
			entries := slices.DeleteFunc(all, func(en *ftp.Entry) bool { return en.Name == "." || en.Name == ".." })
			if len(entries) != 1 || entries[0].Name != "f.bin" || entries[0].Type != ftp.EntryTypeFile ||
				entries[0].Size != uint64(len(data)) {
				for _, en := range entries {
					t.Logf("entry %q type %v size %d", en.Name, en.Type, en.Size)
				}
				t.Fatalf("List(/dir) has %d entries; want f.bin of %d bytes", len(entries), len(data))
			}
			if n, err := c.FileSize("f.bin"); err != nil || n != int64(len(data)) {
				t.Fatalf("FileSize = %d, %v; want %d", n, err, len(data))
			}

			for _, off := range []uint64{0, 12345} {
				r, err := c.RetrFrom("f.bin", off)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r)
				if cerr := r.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					t.Fatal(err)
				}
				if sum(got) != sum(data[off:]) {
					t.Fatalf("RetrFrom(%d): %d bytes, want %d", off, len(got), len(data)-int(off))
				}
			}

			if err := c.Rename("f.bin", "g.bin"); err != nil {
				t.Fatal(err)
			}
			names, err := c.NameList(".")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(names, []string{"g.bin"}) {
				t.Fatalf("NameList after rename = %q, want [g.bin]", names)
			}
			if err := c.Delete("g.bin"); err != nil {
				t.Fatal(err)
			}
			if err := c.Delete("g.bin"); err == nil || !strings.Contains(err.Error(), "550") {
				t.Fatalf("second Delete = %v, want a 550 error", err)
			}
			if err := c.ChangeDirToParent(); err != nil {
				t.Fatal(err)
			}
			if err := c.RemoveDir("dir"); err != nil {
				t.Fatal(err)
			}
			if err := c.NoOp(); err != nil {
				t.Fatal(err)
			}
			if !tc.tls {
				mustContain(t, "jlaffaye/ftp transcript", wire.String(), tc.wantWire, "MLSD")
			}
		})
	}
}
