package server

import (
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
	// duringTransfer: runs at once while a transfer is in progress
	// (ABOR, STAT, QUIT, NOOP); any other command waits for the transfer.
	duringTransfer
)

// command is an entry of the verb table.
type command struct {
	run   func(s *session, arg string) error
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
		"CWD":  {(*session).cmdCWD, needLogin, "<path>"},
		"XCWD": {(*session).cmdCWD, needLogin, "<path>"},
		"CDUP": {(*session).cmdCDUP, needLogin, ""},
		"XCUP": {(*session).cmdCDUP, needLogin, ""},
		"REIN": {(*session).cmdREIN, 0, ""},
		"QUIT": {(*session).cmdQUIT, duringTransfer, ""},

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
		"ALLO": {(*session).cmdALLO, needLogin, "<size>"},
		"REST": {(*session).cmdREST, needLogin | needArg, "<offset>"},
		"RANG": {(*session).cmdRANG, needLogin | needArg, "<start> <end>"},
		"RNFR": {(*session).cmdRNFR, needLogin | needArg, "<path>"},
		"RNTO": {(*session).cmdRNTO, needLogin | needArg, "<path>"},
		"ABOR": {(*session).cmdABOR, duringTransfer, ""},
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
		"STAT": {(*session).cmdSTAT, duringTransfer, "[<path>]"},
		"HELP": {(*session).cmdHELP, 0, "[<command>]"},
		"NOOP": {(*session).cmdNOOP, duringTransfer, ""},
		"FEAT": {(*session).cmdFEAT, 0, ""},
		"OPTS": {(*session).cmdOPTS, needArg, "UTF8 ON | MLST <facts> | HASH <algo>"},
		"SIZE": {(*session).cmdSIZE, needLogin | needArg, "<file>"},
		"MDTM": {(*session).cmdMDTM, needLogin | needArg, "<file>"},
		"MFMT": {(*session).cmdMFMT, needLogin | needArg, "<YYYYMMDDHHMMSS> <path>"},
		"HASH": {(*session).cmdHASH, needLogin | needArg, "<file>"},

		// Security (RFC 4217).
		"AUTH": {(*session).cmdAUTH, needArg, "TLS"},
		"PBSZ": {(*session).cmdPBSZ, needArg, "0"},
		"PROT": {(*session).cmdPROT, needArg, "C | P"},
		"CCC":  {(*session).cmdCCC, needLogin, ""},
	}
}

// dispatch runs one command and reports whether the session should end.
func (s *session) dispatch(cmd ftp.Command) (quit bool) {
	if cmd.Verb == "PASS" {
		s.log.Debug("command", "verb", "PASS", "arg", "****")
	} else {
		s.log.Debug("command", "verb", cmd.Verb, "arg", cmd.Arg)
	}
	c, ok := commands[cmd.Verb]
	if !ok {
		s.reply(ftp.CodeSyntaxError, "Unknown command.")
		return false
	}
	if c.flags&duringTransfer == 0 {
		s.waitTransfer()
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
	err := c.run(s, cmd.Arg)
	switch {
	case err == nil:
	case errors.Is(err, errQuit):
		return true
	default:
		s.replyErr(err)
	}
	return false
}

// reply builds a Reply to return from a handler.
func reply(code int, msg string) *ftp.Reply { return &ftp.Reply{Code: code, Msg: msg} }

func (s *session) cmdNOOP(string) error { return reply(ftp.CodeOK, "NOOP ok.") }

func (s *session) cmdSYST(string) error { return reply(ftp.CodeSystemType, "UNIX Type: L8") }

func (s *session) cmdQUIT(string) error {
	// Let a running transfer finish first (RFC 959: QUIT during a
	// transfer closes after the transfer's reply).
	s.waitTransfer()
	s.reply(ftp.CodeClosing, "Goodbye.")
	return errQuit
}

func (s *session) cmdHELP(arg string) error {
	if arg = strings.ToUpper(strings.TrimSpace(arg)); arg != "" {
		if arg == "SITE" {
			return s.cmdSITE("HELP")
		}
		c, ok := commands[arg]
		if !ok {
			return reply(ftp.CodeBadArguments, "Unknown command "+arg+".")
		}
		return reply(ftp.CodeHelp, "Syntax: "+strings.TrimSpace(arg+" "+c.help))
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
	return reply(ftp.CodeHelp, b.String())
}

func (s *session) cmdTYPE(arg string) error {
	f := strings.Fields(strings.ToUpper(arg))
	switch {
	case len(f) == 1 && f[0] == "I", len(f) == 2 && f[0] == "L" && f[1] == "8":
		s.binary = true
		return reply(ftp.CodeOK, "Switching to Binary mode.")
	case len(f) == 1 && f[0] == "A", len(f) == 2 && f[0] == "A" && f[1] == "N":
		s.binary = false
		return reply(ftp.CodeOK, "Switching to ASCII mode.")
	case len(f) >= 1 && (f[0] == "A" || f[0] == "E" || f[0] == "L" || f[0] == "I"):
		return reply(ftp.CodeNotImplParam, "Type not supported.")
	}
	return reply(ftp.CodeBadArguments, "Unrecognized TYPE.")
}

func (s *session) cmdSTRU(arg string) error {
	if strings.EqualFold(strings.TrimSpace(arg), "F") {
		return reply(ftp.CodeOK, "Structure set to F.")
	}
	return reply(ftp.CodeNotImplParam, "Only file structure (F) is supported.")
}

func (s *session) cmdMODE(arg string) error {
	if strings.EqualFold(strings.TrimSpace(arg), "S") {
		return reply(ftp.CodeOK, "Mode set to S.")
	}
	return reply(ftp.CodeNotImplParam, "Only stream mode (S) is supported.")
}

func (s *session) cmdALLO(string) error {
	return reply(ftp.CodeNotImplSuperfluous, "ALLO not needed.")
}

func (s *session) cmdACCT(string) error {
	if s.user != nil {
		return reply(ftp.CodeNotImplSuperfluous, "ACCT not needed.")
	}
	return reply(ftp.CodeBadSequence, "Login with USER and PASS first.")
}
