package ftp

import (
	"fmt"
	"strconv"
	"strings"
)

// Reply codes used by ferry, with the RFC section that defines each.
const (
	CodeRestartMarker      = 110 // RFC 959 4.2: restart marker reply
	CodeServiceSoon        = 120 // RFC 959: service ready in nnn minutes
	CodeAlreadyOpen        = 125 // RFC 959: data connection already open; transfer starting
	CodeFileStatusOK       = 150 // RFC 959: about to open data connection
	CodeOK                 = 200 // RFC 959: command okay
	CodeNotImplSuperfluous = 202 // RFC 959: command not implemented, superfluous here
	CodeSystemStatus       = 211 // RFC 959: system status, or FEAT (RFC 2389)
	CodeDirectoryStatus    = 212 // RFC 959: directory status
	CodeFileStatus         = 213 // RFC 959 / RFC 3659: file status (STAT, SIZE, MDTM)
	CodeHelp               = 214 // RFC 959: help message
	CodeSystemType         = 215 // RFC 959: NAME system type
	CodeServiceReady       = 220 // RFC 959: service ready for new user
	CodeClosing            = 221 // RFC 959: service closing control connection
	CodeDataOpen           = 225 // RFC 959: data connection open; no transfer in progress
	CodeTransferComplete   = 226 // RFC 959: closing data connection; requested action successful
	CodePassive            = 227 // RFC 959: entering passive mode (h1,h2,h3,h4,p1,p2)
	CodeExtendedPassive    = 229 // RFC 2428: entering extended passive mode (|||port|)
	CodeLoggedIn           = 230 // RFC 959: user logged in, proceed
	CodeAuthOK             = 234 // RFC 4217: security data exchange complete (AUTH TLS)
	CodeFileActionOK       = 250 // RFC 959: requested file action okay, completed
	CodePathCreated        = 257 // RFC 959: "PATHNAME" created
	CodeNeedPassword       = 331 // RFC 959: user name okay, need password
	CodeNeedAccount        = 332 // RFC 959: need account for login
	CodeFilePending        = 350 // RFC 959: requested file action pending further information
	CodeServiceUnavailable = 421 // RFC 959: service not available, closing control connection
	CodeCantOpenData       = 425 // RFC 959: can't open data connection
	CodeTransferAborted    = 426 // RFC 959: connection closed; transfer aborted
	CodeFileUnavailable    = 450 // RFC 959: requested file action not taken (file busy)
	CodeLocalError         = 451 // RFC 959: requested action aborted: local error in processing
	CodeInsufficientSpace  = 452 // RFC 959: requested action not taken: insufficient storage space
	CodeSyntaxError        = 500 // RFC 959: syntax error, command unrecognized (or line too long)
	CodeBadArguments       = 501 // RFC 959: syntax error in parameters or arguments
	CodeNotImplemented     = 502 // RFC 959: command not implemented
	CodeBadSequence        = 503 // RFC 959: bad sequence of commands
	CodeNotImplParam       = 504 // RFC 959: command not implemented for that parameter
	CodeNotLoggedIn        = 530 // RFC 959: not logged in
	CodeNeedAccountStore   = 532 // RFC 959: need account for storing files
	CodeProtectionDenied   = 534 // RFC 4217: request denied for policy reasons
	CodeFileActionDenied   = 550 // RFC 959: requested action not taken: file unavailable
	CodePageTypeUnknown    = 551 // RFC 959: requested action aborted: page type unknown
	CodeExceededStorage    = 552 // RFC 959: requested file action aborted: exceeded storage allocation
	CodeBadFileName        = 553 // RFC 959: requested action not taken: file name not allowed
	CodeNetworkProtocol    = 522 // RFC 2428: network protocol not supported (EPRT/EPSV)
	CodeInvalidRestart     = 554 // RFC 1123 4.1.3.4: requested action not taken: invalid REST parameter
)

// Reply is one FTP reply: a three-digit code and its text. A multi-line
// reply carries its lines in Lines; Msg is then the last line's text.
//
// Reply implements error so that handlers and client calls can return it
// directly and callers can inspect the code with errors.As.
type Reply struct {
	Code  int
	Msg   string
	Lines []string // all text lines of a multi-line reply, first to last; nil for single-line
}

// Error returns the reply as the wire shows it, e.g. "550 No such file".
func (r *Reply) Error() string {
	return strconv.Itoa(r.Code) + " " + r.Msg
}

// Positive reports whether the code is a positive completion or
// preliminary reply (1yz, 2yz or 3yz).
func (r *Reply) Positive() bool { return r.Code >= 100 && r.Code < 400 }

// Transient reports whether the code is a transient negative completion (4yz):
// the same command may succeed later.
func (r *Reply) Transient() bool { return r.Code >= 400 && r.Code < 500 }

// Errorf builds a Reply with a formatted message.
func Errorf(code int, format string, args ...any) *Reply {
	return &Reply{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Format returns the wire bytes of a reply with code and text. A text with
// several lines becomes a multi-line reply (RFC 959 4.2): "code-first",
// the middle lines indented by one space so that no middle line can be
// mistaken for the end, and "code last". CR and LF never leak from text
// into the stream except as line separators.
func Format(code int, text string) []byte {
	lines := strings.Split(strings.ReplaceAll(text, "\r", ""), "\n")
	var b strings.Builder
	c := strconv.Itoa(code)
	if len(lines) == 1 {
		b.Grow(len(c) + 1 + len(text) + 2)
		b.WriteString(c)
		b.WriteByte(' ')
		b.WriteString(lines[0])
		b.WriteString("\r\n")
		return []byte(b.String())
	}
	for i, l := range lines {
		switch {
		case i == 0:
			b.WriteString(c + "-" + l)
		case i == len(lines)-1:
			b.WriteString(c + " " + l)
		default:
			b.WriteString(" " + l)
		}
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}
