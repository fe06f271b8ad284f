package server

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// hashAlgos are the HASH algorithms (draft-bryan-ftpext-hash), strongest
// first. CRC32 (IEEE) is an extension: the draft names the IANA hash
// function textual names, which do not include it, but FileZilla-era
// clients ask for it.
var hashAlgos = []string{"SHA-256", "SHA-1", "MD5", "CRC32"}

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
	case "CRC32":
		return crc32.NewIEEE()
	case "SHA-512":
		return sha512.New()
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
	if err1 == nil && err2 == nil && start == 1 && end == 0 {
		// The draft's reset: "RANG 1 0" clears a range.
		s.restOffset, s.rangeEnd = 0, 0
		return reply(ftp.CodeFilePending, "Range reset."), nil
	}
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return reply(ftp.CodeBadArguments, "Invalid range."), nil
	}
	s.restOffset, s.rangeEnd = start, end+1
	return reply(ftp.CodeFilePending, "Restarting at "+f[0]+". Ending byte at "+f[1]+"."), nil
}

// cmdHASH computes a file's digest: "213 ALGO START-END HEX NAME", with
// END the last byte hashed (draft-bryan-ftpext-hash 3.4). A digest of a
// big file takes a while: the reply is then a multi-line 213 whose first
// lines come every hashKeepAlive, so that clients do not time out.
func (s *session) cmdHASH(ctx context.Context, arg string) (*ftp.Reply, error) {
	if err := s.need(PermDownload); err != nil {
		return nil, err
	}
	start, end := s.takeRest(), s.takeRangeEnd()
	fi, name, r, err := s.hashTarget(ctx, arg)
	if r != nil || err != nil {
		return r, err
	}
	if end == 0 || end > fi.Size() {
		end = fi.Size()
	}
	if start > end {
		return reply(ftp.CodeBadArguments, "Range beyond end of file."), nil
	}
	last := max(end-1, start) // inclusive; "0-0" for an empty file
	return s.digestReply(ctx, ftp.CodeFileStatus, name, s.hashAlgo, start, end, func(sum string) string {
		return s.hashAlgo + " " + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(last, 10) + " " + sum + " " + sanitize(arg)
	})
}

// digestReply computes the digest of bytes [start, end) of name and
// answers code with text(sum). A long digest first sends keep-alive
// lines (see digest); its reply is then multi-line and must end with the
// same code, an error included.
func (s *session) digestReply(ctx context.Context, code int, name, algo string, start, end int64, text func(string) string) (*ftp.Reply, error) {
	sum, kept, err := s.digest(ctx, code, name, algo, start, end)
	if !kept {
		if err != nil {
			return nil, err
		}
		return reply(code, text(sum)), nil
	}
	line := text(sum)
	if err != nil {
		line = "Aborted: " + s.replyFor(err).Msg
	}
	_ = s.writeRaw([]byte(strconv.Itoa(code) + " " + line + "\r\n"))
	return nil, nil
}

// hashTarget is the file a digest command reads: a regular file (or a
// link to one inside the root); a directory gets 553, as a name that
// cannot be hashed.
func (s *session) hashTarget(ctx context.Context, arg string) (fs.FileInfo, string, *ftp.Reply, error) {
	_, name, err := s.resolve(arg)
	if err != nil {
		return nil, "", nil, err
	}
	if fi, err := s.statFollow(ctx, name); err == nil && fi.IsDir() {
		return nil, "", reply(ftp.CodeBadFileName, "Is a directory: only files have a digest."), nil
	}
	fi, name, err := s.statFile(ctx, arg)
	return fi, name, nil, err
}

// digest returns the hex digest of bytes [start, end) of name. While it
// runs longer than hashKeepAlive it writes keep-alive lines, the first
// starting a multi-line reply of code; kept reports that it did, so the
// caller ends that reply.
func (s *session) digest(ctx context.Context, code int, name, algo string, start, end int64) (sum string, kept bool, err error) {
	f, err := s.user.FS.Open(ctx, name, start)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	h := newHash(algo)
	every := s.srv.hashKeepAlive
	if every <= 0 {
		every = hashKeepAlive
	}
	next := time.Now().Add(every)
	r := &ctxReader{ctx: ctx, r: io.LimitReader(f, end-start)}
	buf := make([]byte, 256<<10)
	for {
		n, rerr := r.Read(buf)
		h.Write(buf[:n])
		if now := time.Now(); now.After(next) {
			if !kept {
				_ = s.writeRaw([]byte(strconv.Itoa(code) + "-Computing " + algo + "...\r\n"))
			} else {
				_ = s.writeRaw([]byte(" still computing\r\n"))
			}
			kept, next = true, now.Add(every)
		}
		switch {
		case errors.Is(rerr, io.EOF):
			return hex.EncodeToString(h.Sum(nil)), kept, nil
		case rerr != nil:
			return "", kept, rerr
		}
	}
}

// hashKeepAlive is how often a long digest sends a keep-alive line; a
// Server's hashKeepAlive, when set, overrides it (tests).
const hashKeepAlive = 10 * time.Second

// cmdXDigest answers the legacy digest commands XCRC, XMD5, XSHA1,
// XSHA256 and XSHA512 as ProFTPD's mod_digest does: "250 HEX" for
// "XMD5 file [start [end]]", end exclusive. The HASH draft's appendix
// lists them as non-standard; clients such as older FileZilla send them.
func xDigest(algo string) handler {
	return func(s *session, ctx context.Context, arg string) (*ftp.Reply, error) {
		if err := s.need(PermDownload); err != nil {
			return nil, err
		}
		p, start, end, ok := digestArgs(arg)
		if !ok {
			return reply(ftp.CodeBadArguments, "Usage: X<algorithm> <file> [<start> [<end>]]"), nil
		}
		fi, name, r, err := s.hashTarget(ctx, p)
		if r != nil || err != nil {
			return r, err
		}
		if end < 0 || end > fi.Size() {
			end = fi.Size()
		}
		if start > end {
			return reply(ftp.CodeBadArguments, "Range beyond end of file."), nil
		}
		return s.digestReply(ctx, ftp.CodeFileActionOK, name, algo, start, end, strings.ToUpper)
	}
}

// digestArgs splits "file [start [end]]": the last one or two words are
// offsets when they are decimal numbers, so names with spaces work.
func digestArgs(arg string) (p string, start, end int64, ok bool) {
	end = -1
	f := strings.Fields(arg)
	nums := []int64{}
	for len(f) > 1 && len(nums) < 2 {
		n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
		if err != nil || n < 0 {
			break
		}
		nums = append([]int64{n}, nums...)
		f = f[:len(f)-1]
	}
	if len(f) == 0 {
		return "", 0, 0, false
	}
	p = strings.Join(f, " ")
	switch len(nums) {
	case 2:
		start, end = nums[0], nums[1]
	case 1:
		start = nums[0]
	}
	return p, start, end, true
}
