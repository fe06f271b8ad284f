package server

import (
	"context"
	"errors"
	"io/fs"
	"syscall"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/storage"
)

// storageReply maps a storage error to a reply code and a text that is
// safe to show: it never includes paths on the server's disk or errno text.
func storageReply(err error) (int, string) {
	switch {
	// The raw errnos too: a kernel copy path (splice) may report them
	// from below a backend's own error translation.
	case errors.Is(err, storage.ErrNoSpace), errors.Is(err, syscall.ENOSPC):
		return ftp.CodeInsufficientSpace, "Insufficient storage space."
	case errors.Is(err, storage.ErrQuota), errors.Is(err, syscall.EDQUOT):
		return ftp.CodeExceededStorage, "Quota exceeded."
	case errors.Is(err, storage.ErrNotEmpty):
		return ftp.CodeFileActionDenied, "Directory not empty."
	case errors.Is(err, storage.ErrIsDir):
		return ftp.CodeFileActionDenied, "Is a directory."
	case errors.Is(err, storage.ErrNotDir):
		return ftp.CodeFileActionDenied, "Not a directory."
	case errors.Is(err, storage.ErrUnsupported):
		return ftp.CodeNotImplemented, "Not supported by this server's storage."
	case errors.Is(err, fs.ErrNotExist):
		return ftp.CodeFileActionDenied, "No such file or directory."
	case errors.Is(err, fs.ErrExist):
		return ftp.CodeFileActionDenied, "File exists."
	case errors.Is(err, fs.ErrPermission):
		return ftp.CodeFileActionDenied, "Permission denied."
	case errors.Is(err, fs.ErrInvalid):
		return ftp.CodeBadFileName, "File name not allowed."
	case errors.Is(err, syscall.ENAMETOOLONG):
		// Permanent: the same name will never fit (a backend's own limit).
		return ftp.CodeFileActionDenied, "File name too long."
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ftp.CodeTransferAborted, "Operation aborted."
	}
	return ftp.CodeLocalError, "Local error in processing."
}
