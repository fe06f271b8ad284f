package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/storage"
)

// Every storage error maps to its reply code, through any wrapping, and
// the text never carries the error's own words (paths, errno text).
func TestStorageReplies(t *testing.T) {
	secret := "/srv/ftp/home/alice/private"
	wrap := func(err error) error { return fmt.Errorf("local: open %q: %w", secret, err) }
	for _, tc := range []struct {
		err  error
		code int
	}{
		{storage.ErrNoSpace, ftp.CodeInsufficientSpace},
		{errors.Join(storage.ErrNoSpace, syscall.ENOSPC), ftp.CodeInsufficientSpace},
		{syscall.ENOSPC, ftp.CodeInsufficientSpace},
		{storage.ErrQuota, ftp.CodeExceededStorage},
		{syscall.EDQUOT, ftp.CodeExceededStorage},
		{storage.ErrNotEmpty, ftp.CodeFileActionDenied},
		{storage.ErrIsDir, ftp.CodeFileActionDenied},
		{storage.ErrNotDir, ftp.CodeFileActionDenied},
		{storage.ErrUnsupported, ftp.CodeNotImplemented},
		{fs.ErrNotExist, ftp.CodeFileActionDenied},
		{syscall.ENOENT, ftp.CodeFileActionDenied},
		{fs.ErrExist, ftp.CodeFileActionDenied},
		{fs.ErrPermission, ftp.CodeFileActionDenied},
		{syscall.EACCES, ftp.CodeFileActionDenied},
		{fs.ErrInvalid, ftp.CodeBadFileName},
		{context.Canceled, ftp.CodeTransferAborted},
		{errors.New("disk on fire"), ftp.CodeLocalError},
	} {
		code, msg := storageReply(wrap(tc.err))
		if code != tc.code {
			t.Errorf("%v: code %d, want %d", tc.err, code, tc.code)
		}
		if strings.Contains(msg, "alice") || strings.Contains(msg, "fire") || strings.Contains(msg, "local:") {
			t.Errorf("%v: reply text leaks detail: %q", tc.err, msg)
		}
	}
}
