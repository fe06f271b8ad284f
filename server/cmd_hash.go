package server

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strconv"
	"strings"

	"github.com/ferry-ftp/ferry/ftp"
)

// hashAlgos are the HASH algorithms (draft-bryan-ftpext-hash), strongest first.
var hashAlgos = []string{"SHA-256", "SHA-1", "MD5"}

func canonicalHash(name string) (string, bool) {
	for _, a := range hashAlgos {
		if strings.EqualFold(a, name) {
			return a, true
		}
	}
	return "", false
}

func newHash(algo string) hash.Hash {
	switch algo {
	case "SHA-1":
		return sha1.New()
	case "MD5":
		return md5.New()
	}
	return sha256.New()
}

// hashFeature is the FEAT line's argument, the selected algorithm starred.
func hashFeature(selected string) string {
	parts := make([]string, len(hashAlgos))
	for i, a := range hashAlgos {
		parts[i] = a
		if a == selected {
			parts[i] += "*"
		}
	}
	return strings.Join(parts, ";")
}

// cmdRANG sets the byte range of the next HASH (or transfer) as FileZilla
// uses it (draft-bryan-ftp-range): start and end are inclusive.
func (s *session) cmdRANG(ctx context.Context, arg string) (*ftp.Reply, error) {
	f := strings.Fields(arg)
	if len(f) != 2 {
		return reply(ftp.CodeBadArguments, "Usage: RANG <start> <end>"), nil
	}
	start, err1 := strconv.ParseInt(f[0], 10, 64)
	end, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return reply(ftp.CodeBadArguments, "Invalid range."), nil
	}
	if start == 1 && end == 0 {
		s.restOffset, s.rangeEnd = 0, 0
		return reply(ftp.CodeFilePending, "Range reset."), nil
	}
	s.restOffset, s.rangeEnd = start, end+1
	return reply(ftp.CodeFilePending, "Restarting at "+f[0]+". Ending byte at "+f[1]+"."), nil
}

// cmdHASH computes a file's digest: "213 ALGO START-END HEX NAME".
func (s *session) cmdHASH(ctx context.Context, arg string) (*ftp.Reply, error) {
	if err := s.need(PermDownload); err != nil {
		return nil, err
	}
	start, end := s.takeRest(), s.rangeEnd
	s.rangeEnd = 0
	fi, name, err := s.statFile(ctx, arg)
	if err != nil {
		return nil, err
	}
	if end == 0 || end > fi.Size() {
		end = fi.Size()
	}
	if start > end {
		return reply(ftp.CodeBadArguments, "Range beyond end of file."), nil
	}
	f, err := s.user.FS.Open(ctx, name, start)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := newHash(s.hashAlgo)
	if _, err := copyGeneric(h, &ctxReader{ctx: ctx, r: io.LimitReader(f, end-start)}, nil, nil, nil); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return reply(ftp.CodeFileStatus, s.hashAlgo+" "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10)+
		" "+hex.EncodeToString(h.Sum(nil))+" "+sanitize(arg)), nil
}
