package interop_test

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/internal/testenv"
	"github.com/ferry-ftp/ferry/server"
)

// Under tls.session_reuse = enforce, clients that resume the control
// connection's TLS session on each data connection (curl with OpenSSL,
// lftp with GnuTLS) work as before, and a client that does not (Python's
// ftplib, which never passes the session on) is refused with 522 — the
// same line vsftpd's require_ssl_reuse draws.
func TestTLSSessionReuseEnforced(t *testing.T) {
	e := startServer(t, options{tls: true, tlsReuse: server.TLSReuseEnforce})
	data := writeRandom(t, filepath.Join(e.work, "src"), 1<<20+5)

	t.Run("curl resumes", func(t *testing.T) {
		testenv.Tool(t, "curl")
		curl(t, e, "--ssl-reqd", "-k", "-T", filepath.Join(e.work, "src"), e.url("curl.bin"))
		sameFile(t, filepath.Join(e.root, "curl.bin"), data)
		dst := filepath.Join(e.work, "curl.dst")
		curl(t, e, "--ssl-reqd", "-k", "-o", dst, e.url("curl.bin"))
		sameFile(t, dst, data)
	})

	t.Run("lftp resumes", func(t *testing.T) {
		settings := []string{"set ftp:ssl-force true", "set ftp:ssl-protect-data true", "set ssl:verify-certificate no"}
		lftp(t, e, e.work, settings, "put src -o lftp.bin", "get lftp.bin -o lftp.dst")
		sameFile(t, filepath.Join(e.root, "lftp.bin"), data)
		sameFile(t, filepath.Join(e.work, "lftp.dst"), data)
	})

	t.Run("ftplib does not resume", func(t *testing.T) {
		python := testenv.Tool(t, "python3")
		writeFile(t, filepath.Join(e.root, "f.bin"), data)
		script := `
import ftplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
f = ftplib.FTP_TLS(context=ctx, timeout=20)
f.connect(sys.argv[1], int(sys.argv[2]))
f.login(sys.argv[3], sys.argv[4])
f.prot_p()
try:
    f.retrbinary("RETR f.bin", lambda b: None)
except ftplib.all_errors as err:
    print("refused:", err)
    f.voidcmd("NOOP")   # the session goes on
    print("noop ok")
    sys.exit(0)
print("transfer was not refused")
sys.exit(1)
`
		out := e.mustRun(e.work, "", python, "-c", script, e.host, strconv.Itoa(e.port), ftptest.User, ftptest.Password)
		mustContain(t, "ftplib output", out, "refused: 522", "noop ok")
	})
}
