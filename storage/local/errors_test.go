package local

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"

	"github.com/ferry-ftp/ferry/storage"
)

func TestWrapErr(t *testing.T) {
	tests := []struct {
		errno   syscall.Errno
		want    error
		notWant error
	}{
		{syscall.ENOSPC, storage.ErrNoSpace, nil},
		{syscall.EDQUOT, storage.ErrQuota, nil},
		{syscall.ENOTEMPTY, storage.ErrNotEmpty, fs.ErrExist},
		{syscall.ENOTDIR, storage.ErrNotDir, nil},
		{syscall.EISDIR, storage.ErrIsDir, nil},
		{syscall.EINVAL, fs.ErrInvalid, nil},
		{syscall.ENOENT, fs.ErrNotExist, nil},
		{syscall.EACCES, fs.ErrPermission, nil},
	}
	for _, tt := range tests {
		err := wrapErr("op", "name", &fs.PathError{Op: "openat", Path: "name", Err: tt.errno})
		if !errors.Is(err, tt.want) {
			t.Errorf("%v: %v is not %v", tt.errno, err, tt.want)
		}
		if tt.notWant == nil && !errors.Is(err, tt.errno) {
			t.Errorf("%v: %v lost the errno", tt.errno, err)
		}
		if tt.notWant != nil && errors.Is(err, tt.notWant) {
			t.Errorf("%v: %v is also %v", tt.errno, err, tt.notWant)
		}
	}
	if wrapErr("op", "name", nil) != nil {
		t.Errorf("wrapErr(nil) is not nil")
	}
}
