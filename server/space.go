package server

import (
	"context"
	"path"
	"strconv"
	"strings"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/storage"
)

// ALLO (RFC 959 4.1.3) and AVBL (draft-peterson-streamlined-ftp-command-
// extensions) ask what fits: the free space of the backend, where it can
// tell (storage.Spacer), and the room left in the user's byte quota.

// cmdALLO records the size of the next upload, so that STOR, APPE or
// STOU refuse it before any byte moves when it cannot fit (452, or 552
// past the quota) instead of failing after it has filled the disk.
func (s *session) cmdALLO(_ context.Context, arg string) (*ftp.Reply, error) {
	f := strings.Fields(arg)
	n, err := strconv.ParseInt(f[0], 10, 64)
	switch {
	case err != nil || n < 0,
		len(f) != 1 && len(f) != 3,
		len(f) == 3 && (!strings.EqualFold(f[1], "R") || !isDecimal(f[2])):
		return reply(ftp.CodeBadArguments, "Usage: ALLO <size> [R <record size>]"), nil
	}
	s.allocate = n
	if _, ok := s.user.FS.(storage.Spacer); !ok && s.quota() == nil {
		return reply(ftp.CodeNotImplSuperfluous, "ALLO not needed."), nil
	}
	return reply(ftp.CodeOK, "ALLO ok: the next upload is checked against "+strconv.FormatInt(n, 10)+" bytes."), nil
}

func isDecimal(v string) bool {
	n, err := strconv.ParseInt(v, 10, 64)
	return err == nil && n >= 0
}

// takeAllocation returns and clears the size of a preceding ALLO (0: none).
func (s *session) takeAllocation() int64 {
	n := s.allocate
	s.allocate = 0
	return n
}

// checkAllocation refuses an upload of n more bytes into the directory
// of name when ALLO announced more than fits. Free space that cannot be
// learned does not refuse anything: the upload fails at the full disk
// as it would without ALLO.
func (s *session) checkAllocation(ctx context.Context, name string, n int64) *ftp.Reply {
	if n <= 0 {
		return nil
	}
	if q := s.quota(); q != nil {
		if room, ok := q.room(); ok && n > room {
			return reply(ftp.CodeExceededStorage, "Quota exceeded: the announced size does not fit.")
		}
	}
	if sp, ok := s.user.FS.(storage.Spacer); ok {
		if free, err := sp.Available(ctx, path.Dir(name)); err == nil && n > free {
			return reply(ftp.CodeInsufficientSpace, "Insufficient storage space for the announced size.")
		} else if err != nil {
			s.log.Debug("free space unknown; ALLO not checked", "err", err)
		}
	}
	return nil
}

// cmdAVBL reports the bytes an upload into a directory may still use:
// the backend's free space, or less where the user's quota leaves less.
func (s *session) cmdAVBL(ctx context.Context, arg string) (*ftp.Reply, error) {
	if err := s.need(PermUpload); err != nil {
		return nil, err
	}
	_, name, err := s.resolve(arg)
	if err != nil {
		return nil, err
	}
	fi, err := s.user.FS.Stat(ctx, name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return reply(ftp.CodeFileActionDenied, "Not a directory."), nil
	}
	avail := int64(-1)
	if sp, ok := s.user.FS.(storage.Spacer); ok {
		if avail, err = sp.Available(ctx, name); err != nil {
			return nil, err
		}
	}
	if q := s.quota(); q != nil {
		if _, err := s.quotaFor(ctx); err != nil {
			return nil, err
		}
		if room, ok := q.room(); ok && (avail < 0 || room < avail) {
			avail = room
		}
	}
	if avail < 0 {
		return reply(ftp.CodeNotImplemented, "Free space is not known for this storage."), nil
	}
	return reply(ftp.CodeFileStatus, strconv.FormatInt(avail, 10)), nil
}
