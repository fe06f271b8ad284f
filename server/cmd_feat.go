package server

import (
	"context"
	"strings"

	"github.com/ferry-ftp/ferry/ftp"
)

// cmdFEAT lists the extensions in force (RFC 2389). Each feature line
// starts with a space.
func (s *session) cmdFEAT(ctx context.Context, _ string) (*ftp.Reply, error) {
	feats := []string{
		"EPSV", "MDTM", "MFMT", "SIZE", "REST STREAM", "TVFS", "UTF8",
		s.mlstFacts.Feature(),
		"HASH " + hashFeature(s.hashAlgo),
		"RANG STREAM", "AVBL", "LANG EN*", "CLNT",
	}
	if !s.srv.cfg.DisableActive {
		feats = append(feats, "EPRT", "PORT")
	}
	feats = append(feats, "PASV")
	if s.srv.cfg.TLS != nil {
		feats = append(feats, "AUTH TLS", "PBSZ", "PROT")
	}
	// ftp.Format starts each line between the first and the last with
	// the space that RFC 2389 asks of a feature line.
	return reply(ftp.CodeSystemStatus, "Features:\n"+strings.Join(feats, "\n")+"\nEnd"), nil
}

func (s *session) cmdOPTS(ctx context.Context, arg string) (*ftp.Reply, error) {
	name, val, _ := strings.Cut(strings.TrimSpace(arg), " ")
	val = strings.TrimSpace(val)
	switch strings.ToUpper(name) {
	case "UTF8", "UTF-8":
		// Paths are bytes to ferry and UTF-8 by default (RFC 2640);
		// OFF is accepted for old clients but changes nothing.
		switch strings.ToUpper(val) {
		case "ON", "":
			s.utf8 = true
			return reply(ftp.CodeOK, "UTF8 set to on."), nil
		case "OFF":
			s.utf8 = false
			return reply(ftp.CodeOK, "UTF8 set to off."), nil
		}
		return reply(ftp.CodeBadArguments, "Usage: OPTS UTF8 ON|OFF"), nil
	case "MLST":
		// RFC 3659 7.9: unknown facts are ignored; the reply lists those in force.
		s.mlstFacts = ftp.ParseFactList(val)
		return reply(ftp.CodeOK, "MLST OPTS "+s.mlstFacts.String()), nil
	case "HASH":
		if val == "" {
			return reply(ftp.CodeOK, s.hashAlgo), nil
		}
		algo, ok := canonicalHash(val)
		if !ok {
			return reply(ftp.CodeBadArguments, "Unknown hash algorithm."), nil
		}
		s.hashAlgo = algo
		return reply(ftp.CodeOK, algo), nil
	}
	return reply(ftp.CodeBadArguments, "Option not understood."), nil
}
