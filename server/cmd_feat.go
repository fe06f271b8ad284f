package server

import (
	"strings"

	"github.com/ferry-ftp/ferry/ftp"
)

// cmdFEAT lists the extensions in force (RFC 2389). Each feature line
// starts with a space.
func (s *session) cmdFEAT(string) error {
	feats := []string{
		"EPRT", "EPSV", "MDTM", "MFMT", "SIZE", "REST STREAM", "TVFS", "UTF8",
		s.mlstFacts.Feature(),
		"HASH " + hashFeature(s.hashAlgo),
		"RANG STREAM",
	}
	if !s.srv.cfg.DisableActive {
		feats = append(feats, "PORT")
	}
	feats = append(feats, "PASV")
	if s.srv.cfg.TLS != nil {
		feats = append(feats, "AUTH TLS", "PBSZ", "PROT")
	}
	var b strings.Builder
	b.WriteString("211-Features:\r\n")
	for _, f := range feats {
		b.WriteString(" " + f + "\r\n")
	}
	b.WriteString("211 End\r\n")
	s.writeRaw([]byte(b.String()))
	return nil
}

func (s *session) cmdOPTS(arg string) error {
	name, val, _ := strings.Cut(strings.TrimSpace(arg), " ")
	val = strings.TrimSpace(val)
	switch strings.ToUpper(name) {
	case "UTF8", "UTF-8":
		// Paths are bytes to ferry and UTF-8 by default (RFC 2640);
		// OFF is accepted for old clients but changes nothing.
		switch strings.ToUpper(val) {
		case "ON", "":
			s.utf8 = true
			return reply(ftp.CodeOK, "UTF8 set to on.")
		case "OFF":
			s.utf8 = false
			return reply(ftp.CodeOK, "UTF8 set to off.")
		}
		return reply(ftp.CodeBadArguments, "Usage: OPTS UTF8 ON|OFF")
	case "MLST":
		// RFC 3659 7.9: unknown facts are ignored; the reply lists those in force.
		s.mlstFacts = ftp.ParseFactList(val)
		return reply(ftp.CodeOK, "MLST OPTS "+s.mlstFacts.String())
	case "HASH":
		if val == "" {
			return reply(ftp.CodeOK, s.hashAlgo)
		}
		algo, ok := canonicalHash(val)
		if !ok {
			return reply(ftp.CodeBadArguments, "Unknown hash algorithm.")
		}
		s.hashAlgo = algo
		return reply(ftp.CodeOK, algo)
	}
	return reply(ftp.CodeBadArguments, "Option not understood.")
}
