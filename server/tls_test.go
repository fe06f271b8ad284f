package server_test

import (
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
)

func TestExplicitTLS(t *testing.T) {
	ts := ftptest.NewTLSServer(t, func(c *server.Config) { c.RequireTLSLogin = true; c.RequireTLSData = true })
	ccfg := ts.Cert.ClientConfig("127.0.0.1")
	data := testenv.RandomBytes(1 << 20)
	ts.WriteFile(t, "f", data)
	c := ts.Dial(t)
	if feat := c.Want(ftp.CodeSystemStatus, "FEAT"); !strings.Contains(feat, " AUTH TLS") {
		t.Fatalf("FEAT without AUTH TLS:\n%s", feat)
	}
	c.Want(ftp.CodeProtectionDenied, "USER alice") // login needs TLS first
	c.Want(ftp.CodeBadSequence, "PBSZ 0")
	c.AuthTLS(ccfg)
	c.Login(ftptest.User, ftptest.Password)
	c.Want(ftp.CodeBadSequence, "PROT P") // PBSZ first
	c.Want(ftp.CodeOK, "PBSZ 0")
	c.Want(ftp.CodeProtectionDenied, "PROT C") // data must be protected
	c.Want(ftp.CodeOK, "PROT P")
	dc := c.OpenTLS(ccfg, "RETR f")
	if got := ftptest.ReadAll(t, dc); sum(got) != sum(data) {
		t.Fatal("TLS download differs")
	}
	c.Expect(ftp.CodeTransferComplete)
	up := c.OpenTLS(ccfg, "STOR g")
	ftptest.WriteAll(t, up, data)
	c.Expect(ftp.CodeTransferComplete)
	if sum(ts.ReadFile(t, "g")) != sum(data) {
		t.Fatal("TLS upload differs")
	}
	c.Want(533, "CCC")
}

func TestImplicitTLS(t *testing.T) {
	ts := ftptest.NewTLSServer(t)
	ccfg := ts.Cert.ClientConfig("127.0.0.1")
	ts.WriteFile(t, "f", []byte("implicit"))
	c := ftptest.DialTLS(t, ts.ImplicitAddr, ccfg)
	c.Login(ftptest.User, ftptest.Password)
	// PROT P is the default on an implicit listener.
	dc := c.OpenTLS(ccfg, "RETR f")
	if got := string(ftptest.ReadAll(t, dc)); got != "implicit" {
		t.Fatalf("got %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
}

func TestAuthTLSWithoutCertificate(t *testing.T) {
	ts := ftptest.NewServer(t)
	c := ts.Dial(t)
	c.Want(ftp.CodeNotImplemented, "AUTH TLS")
}

// Under server.TLSReuseEnforce a data connection must resume the control
// connection's session: a client that shares its session cache gets the
// file; one that does a full handshake gets 522 and the session goes on.
func TestTLSSessionReuseEnforced(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			ts := ftptest.NewTLSServer(t, func(c *server.Config) { c.TLSReuse = server.TLSReuseEnforce })
			ccfg := ts.Cert.ClientConfig("127.0.0.1")
			ccfg.MaxVersion = version
			ts.WriteFile(t, "f", []byte("bound"))
			c := ts.Dial(t)
			c.AuthTLS(ccfg)
			c.Login(ftptest.User, ftptest.Password)
			c.Want(ftp.CodeOK, "PBSZ 0")
			c.Want(ftp.CodeOK, "PROT P")
			dc := c.OpenTLS(ccfg, "RETR f")
			if !dc.ConnectionState().DidResume {
				t.Fatal("client did not resume")
			}
			if got := string(ftptest.ReadAll(t, dc)); got != "bound" {
				t.Fatalf("got %q", got)
			}
			c.Expect(ftp.CodeTransferComplete)

			// A client without the session (a thief, or a client that
			// never resumes) completes a full handshake and is refused.
			fresh := ccfg.Clone()
			fresh.ClientSessionCache = nil
			port, _ := ftp.ParseEPSVReply(c.Want(ftp.CodeExtendedPassive, "EPSV"))
			raw, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			c.Send("RETR f")
			tc := tls.Client(raw, fresh)
			_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
			_ = tc.Handshake()
			buf := make([]byte, 16)
			if n, _ := tc.Read(buf); n != 0 {
				t.Fatalf("unbound data connection received %q", buf[:n])
			}
			c.Expect(ftp.CodeFileStatusOK) // 150 comes before the data handshake
			c.Expect(ftp.CodeNetworkProtocol)
			c.Want(ftp.CodeOK, "NOOP")
		})
	}
}

func TestTLSSessionReuseAllowed(t *testing.T) {
	ts := ftptest.NewTLSServer(t)
	ccfg := ts.Cert.ClientConfig("127.0.0.1")
	ts.WriteFile(t, "f", []byte("unbound ok"))
	c := ts.Dial(t)
	c.AuthTLS(ccfg)
	c.Login(ftptest.User, ftptest.Password)
	c.Want(ftp.CodeOK, "PBSZ 0")
	c.Want(ftp.CodeOK, "PROT P")
	fresh := ccfg.Clone()
	fresh.ClientSessionCache = nil
	dc := c.OpenTLS(fresh, "RETR f")
	if got := string(ftptest.ReadAll(t, dc)); got != "unbound ok" {
		t.Fatalf("got %q", got)
	}
	c.Expect(ftp.CodeTransferComplete)
}

// Bytes that follow AUTH TLS in the same read are not a TLS handshake; a
// man in the middle could have injected them in clear text, to be run
// after the upgrade as if protected. They are refused.
func TestAuthTLSRefusesPipelinedCommands(t *testing.T) {
	ts := ftptest.NewTLSServer(t)
	c := ts.Dial(t)
	if _, err := c.NetConn().Write([]byte("AUTH TLS\r\nUSER alice\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Expect(ftp.CodeBadSequence)
	c.Expect(ftp.CodeNeedPassword) // the USER is answered in clear, as a clear command
	c.Want(ftp.CodeSystemType, "SYST")
}
