package server

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/ferry-ftp/ferry/ftp"
)

// cmdFlags describe when a command may run.
type cmdFlags uint8

const (
	// needLogin: refused with 530 before a successful PASS.
	needLogin cmdFlags = 1 << iota
	// needArg: refused with 501 without an argument.
	needArg
)

// handler runs one command. It returns the reply to send, or an error for
// a failure, which dispatch turns into the client's reply (replyFor): a
// storage error, or an *ftp.Reply refusing the command. A handler that
// has written its replies itself (a multi-line listing, a transfer that
// answers when it ends) returns neither.
type handler func(s *session, ctx context.Context, arg string) (*ftp.Reply, error)

// command is an entry of the verb table.
type command struct {
	run   handler
	flags cmdFlags
	help  string // argument synopsis for HELP
}

// errQuit ends the session after QUIT's reply.
var errQuit = errors.New("quit")

// commands is the verb table. Aliases (XCWD, XPWD, ...) from RFC 775 point
// at the same handlers. It is filled in init to break the cycle between
// the table and HELP, which lists it.
var commands map[string]command

func init() {
	commands = map[string]command{
		// Access control (RFC 959 4.1.1).
		"USER": {(*session).cmdUSER, needArg, "<name>"},
		"PASS": {(*session).cmdPASS, 0, "<password>"},
		"ACCT": {(*session).cmdACCT, 0, "<account>"},
		"CWD":  {(*session).cmdCWD, needLogin | needArg, "<path>"},
		"SMNT": {(*session).cmdSMNT, needLogin, "<pathname>"},
		"XCWD": {(*session).cmdCWD, needLogin, "<path>"},
		"CDUP": {(*session).cmdCDUP, needLogin, ""},
		"XCUP": {(*session).cmdCDUP, needLogin, ""},
		"REIN": {(*session).cmdREIN, 0, ""},
		"QUIT": {(*session).cmdQUIT, 0, ""},

		// Transfer parameters (RFC 959 4.1.2, RFC 2428).
		"PORT": {(*session).cmdPORT, needLogin | needArg, "h1,h2,h3,h4,p1,p2"},
		"PASV": {(*session).cmdPASV, needLogin, ""},
		"EPRT": {(*session).cmdEPRT, needLogin | needArg, "|proto|addr|port|"},
		"EPSV": {(*session).cmdEPSV, needLogin, "[1|2|ALL]"},
		"TYPE": {(*session).cmdTYPE, needLogin | needArg, "A [N] | I | L 8"},
		"STRU": {(*session).cmdSTRU, needLogin | needArg, "F"},
		"MODE": {(*session).cmdMODE, needLogin | needArg, "S"},

		// Service commands (RFC 959 4.1.3, RFC 3659).
		"RETR": {(*session).cmdRETR, needLogin | needArg, "<file>"},
		"STOR": {(*session).cmdSTOR, needLogin | needArg, "<file>"},
		"STOU": {(*session).cmdSTOU, needLogin, "[<name>]"},
		"APPE": {(*session).cmdAPPE, needLogin | needArg, "<file>"},
		"ALLO": {(*session).cmdALLO, needLogin | needArg, "<size> [R <record size>]"},
		"AVBL": {(*session).cmdAVBL, needLogin, "[<dir>]"},
		"REST": {(*session).cmdREST, needLogin | needArg, "<offset>"},
		"RANG": {(*session).cmdRANG, needLogin | needArg, "<start> <end>"},
		"RNFR": {(*session).cmdRNFR, needLogin | needArg, "<path>"},
		"RNTO": {(*session).cmdRNTO, needLogin | needArg, "<path>"},
		"ABOR": {(*session).cmdABOR, 0, ""},
		"DELE": {(*session).cmdDELE, needLogin | needArg, "<file>"},
		"RMD":  {(*session).cmdRMD, needLogin | needArg, "<dir>"},
		"XRMD": {(*session).cmdRMD, needLogin | needArg, "<dir>"},
		"MKD":  {(*session).cmdMKD, needLogin | needArg, "<dir>"},
		"XMKD": {(*session).cmdMKD, needLogin | needArg, "<dir>"},
		"PWD":  {(*session).cmdPWD, needLogin, ""},
		"XPWD": {(*session).cmdPWD, needLogin, ""},
		"LIST": {(*session).cmdLIST, needLogin, "[-a] [<path>]"},
		"NLST": {(*session).cmdNLST, needLogin, "[<path>]"},
		"MLSD": {(*session).cmdMLSD, needLogin, "[<dir>]"},
		"MLST": {(*session).cmdMLST, needLogin, "[<path>]"},
		"SITE": {(*session).cmdSITE, needLogin | needArg, "HELP | CHMOD <mode> <path>"},
		"SYST": {(*session).cmdSYST, 0, ""},
		"STAT": {(*session).cmdSTAT, 0, "[<path>]"},
		"HELP": {(*session).cmdHELP, 0, "[<command>]"},
		"NOOP": {(*session).cmdNOOP, 0, ""},
		"FEAT": {(*session).cmdFEAT, 0, ""},
		"OPTS": {(*session).cmdOPTS, needArg, "UTF8 ON | MLST <facts> | HASH <algo>"},
		"SIZE": {(*session).cmdSIZE, needLogin | needArg, "<file>"},
		"MDTM": {(*session).cmdMDTM, needLogin | needArg, "<file>"},
		"MFMT": {(*session).cmdMFMT, needLogin | needArg, "<YYYYMMDDHHMMSS> <path>"},
		"HASH": {(*session).cmdHASH, needLogin | needArg, "<file>"},
		// Legacy digests, as ProFTPD's mod_digest answers them.
		"XCRC":    {xDigest("CRC32"), needLogin | needArg, "<file> [<start> [<end>]]"},
		"XMD5":    {xDigest("MD5"), needLogin | needArg, "<file> [<start> [<end>]]"},
		"XSHA1":   {xDigest("SHA-1"), needLogin | needArg, "<file> [<start> [<end>]]"},
		"XSHA256": {xDigest("SHA-256"), needLogin | needArg, "<file> [<start> [<end>]]"},
		"XSHA512": {xDigest("SHA-512"), needLogin | needArg, "<file> [<start> [<end>]]"},
		"CLNT":    {(*session).cmdCLNT, needArg, "<client name>"},
		"LANG":    {(*session).cmdLANG, 0, "[EN]"},

		// Security (RFC 4217).
		"AUTH": {(*session).cmdAUTH, needArg, "TLS"},
		"PBSZ": {(*session).cmdPBSZ, needArg, "0"},
		"PROT": {(*session).cmdPROT, needArg, "C | P"},
		"CCC":  {(*session).cmdCCC, needLogin, ""},
	}
}

// dispatch runs one command and reports whether the session should end.
func (s *session) dispatch(ctx context.Context, cmd ftp.Command) (quit bool) {
	if cmd.Verb == "PASS" || cmd.Verb == "ACCT" {
		// Secrets, as the account of ACCT may be: never logged.
		s.log.Debug("command", "verb", cmd.Verb, "arg", "****")
	} else {
		s.log.Debug("command", "verb", cmd.Verb, "arg", cmd.Arg)
	}
	c, ok := commands[cmd.Verb]
	if !ok {
		s.reply(ftp.CodeSyntaxError, "Unknown command.")
		return false
	}
	if c.flags&needLogin != 0 && s.user == nil {
		s.reply(ftp.CodeNotLoggedIn, "Please login with USER and PASS.")
		return false
	}
	if c.flags&needArg != 0 && strings.TrimSpace(cmd.Arg) == "" {
		s.reply(ftp.CodeBadArguments, cmd.Verb+" needs an argument.")
		return false
	}
	// RNFR must be followed at once by RNTO (RFC 959 4.1.3); anything
	// else forgets it.
	if cmd.Verb != "RNTO" {
		s.renameFrom = ""
	}
	r, err := c.run(s, ctx, cmd.Arg)
	switch {
	case errors.Is(err, errQuit):
		return true
	case err != nil:
		return s.replyErr(err) != nil
	case r != nil:
		return s.reply(r.Code, r.Msg) != nil
	}
	return false
}

// reply builds a Reply to return from a handler.
func reply(code int, msg string) *ftp.Reply { return &ftp.Reply{Code: code, Msg: msg} }

func (s *session) cmdNOOP(context.Context, string) (*ftp.Reply, error) {
	return reply(ftp.CodeOK, "NOOP ok."), nil
}

func (s *session) cmdSYST(context.Context, string) (*ftp.Reply, error) {
	return reply(ftp.CodeSystemType, "UNIX Type: L8"), nil
}

func (s *session) cmdQUIT(ctx context.Context, _ string) (*ftp.Reply, error) {
	// QUIT read during a transfer was queued behind it (handleParsed),
	// so the transfer's reply has gone out first (RFC 959 4.1.1).
	s.reply(ftp.CodeClosing, "Goodbye.")
	return nil, errQuit
}

func (s *session) cmdHELP(ctx context.Context, arg string) (*ftp.Reply, error) {
	if arg = strings.ToUpper(strings.TrimSpace(arg)); arg != "" {
		if arg == "SITE" {
			return s.cmdSITE(ctx, "HELP")
		}
		c, ok := commands[arg]
		if !ok {
			return reply(ftp.CodeBadArguments, "Unknown command "+arg+"."), nil
		}
		return reply(ftp.CodeHelp, "Syntax: "+strings.TrimSpace(arg+" "+c.help)), nil
	}
	verbs := make([]string, 0, len(commands))
	for v := range commands {
		verbs = append(verbs, v)
	}
	sort.Strings(verbs)
	var b strings.Builder
	b.WriteString("The following commands are recognized.")
	for i, v := range verbs {
		if i%8 == 0 {
			b.WriteString("\n")
		}
		b.WriteString(" " + v)
	}
	b.WriteString("\nHelp OK.")
	return reply(ftp.CodeHelp, b.String()), nil
}

func (s *session) cmdTYPE(ctx context.Context, arg string) (*ftp.Reply, error) {
	f := strings.Fields(strings.ToUpper(arg))
	switch {
	case len(f) == 1 && f[0] == "I", len(f) == 2 && f[0] == "L" && f[1] == "8":
		s.binary = true
		return reply(ftp.CodeOK, "Switching to Binary mode."), nil
	case len(f) == 1 && f[0] == "A", len(f) == 2 && f[0] == "A" && f[1] == "N":
		s.binary = false
		return reply(ftp.CodeOK, "Switching to ASCII mode."), nil
	case len(f) >= 1 && (f[0] == "A" || f[0] == "E" || f[0] == "L" || f[0] == "I"):
		return reply(ftp.CodeNotImplParam, "Type not supported."), nil
	}
	return reply(ftp.CodeBadArguments, "Unrecognized TYPE."), nil
}

func (s *session) cmdSTRU(ctx context.Context, arg string) (*ftp.Reply, error) {
	if strings.EqualFold(strings.TrimSpace(arg), "F") {
		return reply(ftp.CodeOK, "Structure set to F."), nil
	}
	return reply(ftp.CodeNotImplParam, "Only file structure (F) is supported."), nil
}

func (s *session) cmdMODE(ctx context.Context, arg string) (*ftp.Reply, error) {
	if strings.EqualFold(strings.TrimSpace(arg), "S") {
		return reply(ftp.CodeOK, "Mode set to S."), nil
	}
	return reply(ftp.CodeNotImplParam, "Only stream mode (S) is supported."), nil
}

// cmdSMNT is an RFC 959 command ferry does not offer: a user's view of
// storage is fixed at login.
func (s *session) cmdSMNT(context.Context, string) (*ftp.Reply, error) {
	return reply(ftp.CodeNotImplemented, "SMNT not implemented."), nil
}

// cmdCLNT records the client's name (draft-ietf-ftpext-clnt), for the log.
func (s *session) cmdCLNT(_ context.Context, arg string) (*ftp.Reply, error) {
	s.log.Info("client", "name", sanitize(arg))
	return reply(ftp.CodeOK, "Noted."), nil
}

// cmdLANG selects the language of replies (RFC 2640 4.1): English only.
func (s *session) cmdLANG(_ context.Context, arg string) (*ftp.Reply, error) {
	switch lang := strings.ToUpper(strings.TrimSpace(arg)); lang {
	case "", "EN", "EN-US", "EN-GB":
		return reply(ftp.CodeOK, "Using EN."), nil
	}
	return reply(ftp.CodeNotImplParam, "Language not supported; EN is."), nil
}

func (s *session) cmdACCT(ctx context.Context, _ string) (*ftp.Reply, error) {
	if s.user != nil {
		return reply(ftp.CodeNotImplSuperfluous, "ACCT not needed."), nil
	}
	return reply(ftp.CodeBadSequence, "Login with USER and PASS first."), nil
}
