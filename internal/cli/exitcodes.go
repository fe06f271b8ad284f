package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/ferry-ftp/ferry/client"
	"github.com/ferry-ftp/ferry/ftp"
)

// Exit codes of the client commands, besides exitOK, exitFailure (any
// other runtime failure) and exitUsage.
const (
	exitConnection = 3 // the server could not be reached, TLS failed, or the login was refused
	exitTransfer   = 4 // a transfer failed (including a remote file that does not exist)
	exitVerify     = 5 // a transferred file does not match the server's size or hash
)

// exitCodesHelp documents the exit codes in the help of client commands.
const exitCodesHelp = "Exit codes: 0 ok, 1 other failure, 2 usage, 3 connection or login, 4 transfer, 5 verification."

// clientExit maps an error of a client command to its exit code.
func clientExit(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(usageError)):
		return exitUsage
	case errors.Is(err, client.ErrVerification):
		return exitVerify
	case errors.Is(err, client.ErrLogin), errors.Is(err, client.ErrConnection):
		return exitConnection
	case errors.Is(err, client.ErrTransfer), errors.Is(err, client.ErrAborted):
		return exitTransfer
	}
	return exitFailure
}

// hint suggests what to do about err, or "".
func hint(err error, mode client.Mode) string {
	var rep *ftp.Reply
	if errors.As(err, &rep) {
		switch rep.Code {
		case 530:
			if errors.Is(err, client.ErrLogin) {
				return "check the user name and password (--user, the URL, or ~/.netrc)"
			}
			return "the server wants a login, or TLS first: try --tls"
		case 425:
			if mode == client.ModeActive {
				return "the server could not connect back to this machine; a firewall or NAT may block active mode: try --mode passive, --active-address, or ferry doctor URL"
			}
			return "the server's passive ports may be blocked by a firewall; try --mode active or ferry doctor URL"
		case 426:
			return "the data connection broke; try again, with -c to resume"
		case 534, 522:
			return "the server refuses this TLS setup; check --tls or an ftps:// URL"
		case 550:
			return "the file or directory does not exist, or you may not access it"
		case 552, 452:
			return "the server is out of space or over a quota"
		case 553:
			return "the server refuses this file name, or you may not write here"
		}
		return ""
	}
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var cerr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &uerr), errors.As(err, &herr), errors.As(err, &cerr):
		return "the server's certificate is not trusted: pass --ca-file FILE, or --insecure if you know why"
	case errors.Is(err, client.ErrTransfer) && (isTimeout(err) || errors.Is(err, syscall.ECONNREFUSED)):
		if mode == client.ModePassive {
			return "the data connection failed: a firewall may block the server's passive ports; try --mode active or ferry doctor URL"
		}
		return "the data connection failed: a firewall may block it; try another --mode or ferry doctor URL"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens there: check the host and port (ftps:// uses 990, ftp:// 21)"
	case errors.Is(err, client.ErrConnection) && isTimeout(err):
		return "no answer in time: check the host, the port and any firewall on the way, or raise --timeout"
	}
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// exitError carries a client command's exit code to run, which prints
// the error and returns the code.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// finish turns a client command's error into its exit code and adds a
// hint for the user, if there is one.
func finish(mode client.Mode, err error) error {
	if err == nil {
		return nil
	}
	if h := hint(err, mode); h != "" {
		err = fmt.Errorf("%w\nhint: %s", err, h)
	}
	return exitError{code: clientExit(err), err: err}
}
