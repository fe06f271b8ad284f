package doctor

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/ferry-ftp/ferry/client"
	"github.com/ferry-ftp/ferry/ftp"
)

// The causes of replies no test server gives, from the reply alone.
func TestModeRefusedCause(t *testing.T) {
	for _, tc := range []struct {
		mode string
		err  error
		want string
	}{
		{"PORT", fmt.Errorf("%w: %w", client.ErrTransfer, ftp.Errorf(250, "PORT fine")), "is 250, not the 200"},
		{"PASV", ftp.Errorf(200, "ok"), "is 200, not the 227"},
		{"PORT", ftp.Errorf(500, "Illegal PORT command."), "rejected the address this machine announced"},
		{"EPRT", ftp.Errorf(501, "Bad EPRT"), "this machine is behind NAT"},
		{"EPRT", ftp.Errorf(502, "not implemented"), "active mode disabled"},
		{"EPSV", ftp.Errorf(500, "unknown command"), "does not implement it"},
		{"EPSV", ftp.Errorf(425, "No passive port available"), "passive port range may be exhausted"},
		{"PASV", ftp.Errorf(522, "use (2)"), "address family"},
		{"PASV", ftp.Errorf(534, "Policy"), "requires TLS"},
		{"PORT", fmt.Errorf("%w: %w", client.ErrConnection, os.ErrDeadlineExceeded), "control connection broke or stalled"},
	} {
		cause, _ := modeRefusedCause(tc.mode, tc.err, "192.168.1.5:40000")
		if !strings.Contains(cause, tc.want) {
			t.Errorf("%s %v: cause %q, want it to mention %q", tc.mode, tc.err, cause, tc.want)
		}
	}
}

func TestTransferCause(t *testing.T) {
	for _, tc := range []struct {
		err    error
		want   string
		dataOK bool
	}{
		{ftp.Errorf(425, "Can't open data connection."), "another source address", false},
		{ftp.Errorf(426, "Connection closed"), "did not take it", false},
		{ftp.Errorf(550, "No such directory"), "refused to list /pub", true},
		{fmt.Errorf("%w: data connection TLS handshake: %w", client.ErrTransfer, errors.New("remote error")), "TLS handshake failed", false},
		{fmt.Errorf("%w: %w", client.ErrTransfer, os.ErrDeadlineExceeded), "listing stalled", false},
		{fmt.Errorf("%w: %w", client.ErrTransfer, syscall.EPIPE), "after the data connection opened", false},
	} {
		cause, _, ok := transferCause(tc.err, "/pub")
		if !strings.Contains(cause, tc.want) || ok != tc.dataOK {
			t.Errorf("%v: cause %q ok %v, want %q ok %v", tc.err, cause, ok, tc.want, tc.dataOK)
		}
	}
}
