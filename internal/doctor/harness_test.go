package doctor

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/peertest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// listed are the files every test root holds: a listing in each mode
// must return exactly these.
var listed = []string{"a.txt", "b.txt"}

// startServer runs our server (see ftptest.NewServer) with a root
// holding the listed files; mutate adjusts the config.
func startServer(t *testing.T, mutate func(*server.Config)) (host string, port int) {
	t.Helper()
	ts := ftptest.NewServer(t, mutate)
	for _, n := range listed {
		if err := os.WriteFile(filepath.Join(ts.Root, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ap := netip.MustParseAddrPort(ts.Addr)
	return ap.Addr().String(), int(ap.Port())
}

// testTLS returns a server config with a fresh self-signed certificate
// for 127.0.0.1 and a pool that trusts it.
func testTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	c := testenv.SelfSigned(t)
	return c.ServerConfig(), c.Pool
}

// fakeServer is a scripted FTP server for what ours will not do: it
// accepts EPRT and PORT but never connects back, as if a firewall on the
// client's side dropped the connection, or connects back from another
// address, as if it sat behind a NAT. Passive modes work unless
// epsvDead, which answers EPSV with a port nobody listens on.
type fakeServer struct {
	fakeOptions
	t     *testing.T
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
}

type fakeOptions struct {
	activeFrom netip.Addr // connect back from here; zero: never connect
	epsvDead   bool
}

func startFake(t *testing.T, opts fakeOptions) (host string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{fakeOptions: opts, t: t, ln: ln, conns: map[net.Conn]bool{}}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns[c] = true
			f.mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Close()
				f.session(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		for c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	ap := netip.MustParseAddrPort(ln.Addr().String())
	return ap.Addr().String(), int(ap.Port())
}

func (f *fakeServer) session(c net.Conn) {
	r := textproto.NewReader(bufio.NewReader(c))
	say := func(s string) { fmt.Fprintf(c, "%s\r\n", s) }
	var pasv net.Listener
	var active netip.AddrPort
	defer func() {
		if pasv != nil {
			pasv.Close()
		}
	}()
	say("220 fake ready")
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := r.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "USER":
			say("331 password please")
		case "PASS":
			say("230 logged in")
		case "FEAT":
			say("211-Features:\r\n EPSV\r\n EPRT\r\n211 End")
		case "TYPE":
			say("200 ok")
		case "EPSV", "PASV":
			if pasv != nil {
				pasv.Close()
			}
			if pasv, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				say("425 cannot listen")
				continue
			}
			ap := netip.MustParseAddrPort(pasv.Addr().String())
			if strings.EqualFold(verb, "EPSV") && f.epsvDead {
				pasv.Close()
				pasv = nil
				say("229 " + ftp.FormatEPSVReply(uint16(peertest.FreePort(f.t))))
			} else if strings.EqualFold(verb, "EPSV") {
				say("229 " + ftp.FormatEPSVReply(ap.Port()))
			} else {
				hp, _ := ftp.FormatHostPort(ap)
				say("227 Entering Passive Mode (" + hp + ").")
			}
		case "EPRT", "PORT":
			if pasv != nil {
				pasv.Close()
				pasv = nil
			}
			if strings.EqualFold(verb, "EPRT") {
				active, err = ftp.ParseEPRT(arg)
			} else {
				active, err = ftp.ParseHostPort(arg)
			}
			if err != nil {
				say("501 bad address")
				continue
			}
			say("200 ok")
		case "LIST", "MLSD", "NLST":
			if pasv == nil && !f.activeFrom.IsValid() {
				say("150 opening data connection")
				continue // the connection back never comes; nor does a final reply
			}
			if pasv == nil {
				// Connect back from another loopback address; the client
				// must refuse it and keep waiting for the server.
				say("150 opening data connection")
				d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(f.activeFrom, 0))}
				if dc, err := d.Dial("tcp", active.String()); err == nil {
					f.mu.Lock()
					f.conns[dc] = true
					f.mu.Unlock()
				}
				continue
			}
			say("150 opening data connection")
			pasv.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
			dc, err := pasv.Accept()
			if err != nil {
				say("425 no data connection")
				continue
			}
			for _, n := range listed {
				fmt.Fprintf(dc, "-rw-r--r-- 1 ftp ftp %d Jan 01 2020 %s\r\n", len(n), n)
			}
			dc.Close()
			pasv.Close()
			pasv = nil
			say("226 done")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 " + strconv.Quote(verb) + " not implemented")
		}
	}
}
