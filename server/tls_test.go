package server

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/testenv"
)

// testTLS returns a server config with a fresh self-signed certificate
// for 127.0.0.1 and a client config that trusts it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	c := testenv.SelfSigned(t)
	return c.ServerConfig(), c.ClientConfig("127.0.0.1")
}

// startTLS upgrades c with AUTH TLS.
func (c *ctrl) startTLS(cfg *tls.Config) {
	c.t.Helper()
	c.cmd(ftp.CodeAuthOK, "AUTH TLS")
	tc := tls.Client(c.conn, cfg)
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("handshake: %v", err)
	}
	_ = tc.SetDeadline(time.Time{})
	c.conn = tc
	c.r = textproto.NewReader(bufio.NewReader(tc))
}

// epsvTLS opens a protected passive data connection for command.
func (c *ctrl) epsvTLS(cfg *tls.Config, command string) *tls.Conn {
	c.t.Helper()
	port, _ := ftp.ParseEPSVReply(c.cmd(ftp.CodeExtendedPassive, "EPSV"))
	raw, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), 5*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(command)
	dc := tls.Client(raw, cfg)
	_ = dc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := dc.Handshake(); err != nil {
		c.t.Fatalf("data handshake: %v", err)
	}
	c.expect(ftp.CodeFileStatusOK)
	return dc
}

func TestExplicitTLS(t *testing.T) {
	scfg, ccfg := testTLS(t)
	ts := startServer(t, func(c *Config) { c.TLS = scfg; c.RequireTLSLogin = true; c.RequireTLSData = true })
	data := randomBytes(1 << 20)
	ts.write(t, "f", data)
	c := dial(t, ts.addr)
	if feat := c.cmd(ftp.CodeSystemStatus, "FEAT"); !strings.Contains(feat, " AUTH TLS") {
		t.Fatalf("FEAT without AUTH TLS:\n%s", feat)
	}
	c.cmd(ftp.CodeProtectionDenied, "USER alice") // login needs TLS first
	c.cmd(ftp.CodeBadSequence, "PBSZ 0")
	c.startTLS(ccfg)
	c.login("alice")
	c.cmd(ftp.CodeBadSequence, "PROT P") // PBSZ first
	c.cmd(ftp.CodeOK, "PBSZ 0")
	c.cmd(ftp.CodeProtectionDenied, "PROT C") // data must be protected
	c.cmd(ftp.CodeOK, "PROT P")
	dc := c.epsvTLS(ccfg, "RETR f")
	if got := readAll(t, dc); sum(got) != sum(data) {
		t.Fatal("TLS download differs")
	}
	c.expect(ftp.CodeTransferComplete)
	up := c.epsvTLS(ccfg, "STOR g")
	writeAll(t, up, data)
	c.expect(ftp.CodeTransferComplete)
	if sum(ts.read(t, "g")) != sum(data) {
		t.Fatal("TLS upload differs")
	}
	c.cmd(533, "CCC")
}

func TestImplicitTLS(t *testing.T) {
	scfg, ccfg := testTLS(t)
	ts := startServer(t, func(c *Config) { c.TLS = scfg })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = ts.srv.ServeImplicitTLS(l) }()
	ts.write(t, "f", []byte("implicit"))
	conn, err := tls.Dial("tcp", l.Addr().String(), ccfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &ctrl{t: t, conn: conn, r: textproto.NewReader(bufio.NewReader(conn))}
	c.expect(ftp.CodeServiceReady)
	c.login("alice")
	// PROT P is the default on an implicit listener.
	dc := c.epsvTLS(ccfg, "RETR f")
	if got := string(readAll(t, dc)); got != "implicit" {
		t.Fatalf("got %q", got)
	}
	c.expect(ftp.CodeTransferComplete)
}

func TestAuthTLSWithoutCertificate(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.addr)
	c.cmd(ftp.CodeNotImplemented, "AUTH TLS")
}

// Under TLSReuseEnforce a data connection must resume the control
// connection's session: a client that shares its session cache gets the
// file; one that does a full handshake gets 522 and the session goes on.
func TestTLSSessionReuseEnforced(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			scfg, ccfg := testTLS(t)
			ccfg.MaxVersion = version
			ts := startServer(t, func(c *Config) { c.TLS = scfg; c.TLSReuse = TLSReuseEnforce })
			ts.write(t, "f", []byte("bound"))
			c := dial(t, ts.addr)
			c.startTLS(ccfg)
			c.login("alice")
			c.cmd(ftp.CodeOK, "PBSZ 0")
			c.cmd(ftp.CodeOK, "PROT P")
			dc := c.epsvTLS(ccfg, "RETR f")
			if !dc.ConnectionState().DidResume {
				t.Fatal("client did not resume")
			}
			if got := string(readAll(t, dc)); got != "bound" {
				t.Fatalf("got %q", got)
			}
			c.expect(ftp.CodeTransferComplete)

			// A client without the session (a thief, or a client that
			// never resumes) completes a full handshake and is refused.
			fresh := ccfg.Clone()
			fresh.ClientSessionCache = nil
			port, _ := ftp.ParseEPSVReply(c.cmd(ftp.CodeExtendedPassive, "EPSV"))
			raw, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			c.send("RETR f")
			tc := tls.Client(raw, fresh)
			_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
			_ = tc.Handshake()
			buf := make([]byte, 16)
			if n, _ := tc.Read(buf); n != 0 {
				t.Fatalf("unbound data connection received %q", buf[:n])
			}
			c.expect(ftp.CodeFileStatusOK) // 150 comes before the data handshake
			c.expect(ftp.CodeNetworkProtocol)
			c.cmd(ftp.CodeOK, "NOOP")
		})
	}
}

func TestTLSSessionReuseAllowed(t *testing.T) {
	scfg, ccfg := testTLS(t)
	ts := startServer(t, func(c *Config) { c.TLS = scfg })
	ts.write(t, "f", []byte("unbound ok"))
	c := dial(t, ts.addr)
	c.startTLS(ccfg)
	c.login("alice")
	c.cmd(ftp.CodeOK, "PBSZ 0")
	c.cmd(ftp.CodeOK, "PROT P")
	fresh := ccfg.Clone()
	fresh.ClientSessionCache = nil
	dc := c.epsvTLS(fresh, "RETR f")
	if got := string(readAll(t, dc)); got != "unbound ok" {
		t.Fatalf("got %q", got)
	}
	c.expect(ftp.CodeTransferComplete)
}

// Bytes that follow AUTH TLS in the same read are not a TLS handshake; a
// man in the middle could have injected them in clear text, to be run
// after the upgrade as if protected. They are refused.
func TestAuthTLSRefusesPipelinedCommands(t *testing.T) {
	scfg, _ := testTLS(t)
	ts := startServer(t, func(c *Config) { c.TLS = scfg })
	c := dial(t, ts.addr)
	if _, err := c.conn.Write([]byte("AUTH TLS\r\nUSER alice\r\n")); err != nil {
		t.Fatal(err)
	}
	c.expect(ftp.CodeBadSequence)
	c.expect(ftp.CodeNeedPassword) // the USER is answered in clear, as a clear command
	c.cmd(ftp.CodeSystemType, "SYST")
}
