package server

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/storage"
)

// resolve turns a client path into the virtual absolute path shown to the
// client and the storage name for the user's FS. Cleaning an absolute path
// cannot climb above "/", so no argument can leave the user's root; the
// backend enforces the same on its side (os.Root for local disks).
//
// A path through an atomic upload's temporary is refused as if it did not
// exist (550): another session must not read, size, rename or delete an
// upload in flight. resolveNew is the same for a name to be created (553).
//
// A name longer than file systems allow (an element over 255 bytes) is
// refused permanently: 550 here, 553 by resolveNew. (It used to reach the
// disk and come back as a temporary 451.)
func (s *session) resolve(arg string) (vpath, name string, err error) {
	vpath, name = s.clean(arg)
	switch {
	case isUploadTemp(vpath):
		return vpath, name, reply(ftp.CodeFileActionDenied, "No such file or directory.")
	case tooLong(vpath):
		return vpath, name, reply(ftp.CodeFileActionDenied, "File name too long.")
	}
	return vpath, name, nil
}

// resolveNew is resolve for a name that a command creates (STOR, APPE,
// STOU, MKD, RNTO).
func (s *session) resolveNew(arg string) (vpath, name string, err error) {
	vpath, name = s.clean(arg)
	switch {
	case isUploadTemp(vpath):
		return vpath, name, reply(ftp.CodeBadFileName, "File name not allowed.")
	case tooLong(vpath):
		return vpath, name, reply(ftp.CodeBadFileName, "File name too long.")
	}
	return vpath, name, nil
}

// maxNameLen is NAME_MAX, the longest file name element Linux file
// systems (and most others) take, in bytes; maxPathLen is PATH_MAX.
const (
	maxNameLen = 255
	maxPathLen = 4096
)

// tooLong reports whether vpath has an element, or is as a whole, longer
// than file systems allow.
func tooLong(vpath string) bool {
	if len(vpath) >= maxPathLen {
		return true
	}
	for e := range strings.SplitSeq(vpath, "/") {
		if len(e) > maxNameLen {
			return true
		}
	}
	return false
}

func (s *session) clean(arg string) (vpath, name string) {
	p := arg
	if !strings.HasPrefix(p, "/") {
		p = s.cwd + "/" + p
	}
	vpath = path.Clean(p)
	name = strings.TrimPrefix(vpath, "/")
	if name == "" {
		name = "."
	}
	return vpath, name
}

// checkDepth refuses a directory at vpath deeper than Config.MaxDepth.
func (s *session) checkDepth(vpath string) *ftp.Reply {
	if strings.Count(vpath, "/") > s.srv.cfg.MaxDepth {
		return reply(ftp.CodeBadFileName, "Directory depth limit reached ("+strconv.Itoa(s.srv.cfg.MaxDepth)+" levels).")
	}
	return nil
}

// isUploadTemp reports whether any element of vpath is named like an
// atomic upload's temporary.
func isUploadTemp(vpath string) bool {
	for e := range strings.SplitSeq(vpath, "/") {
		if strings.HasPrefix(e, atomicPrefix) {
			return true
		}
	}
	return false
}

// need returns a 550 reply unless the user has every permission in p.
func (s *session) need(p Perm) error {
	if s.user.Perms.Has(p) {
		return nil
	}
	return reply(ftp.CodeFileActionDenied, "Permission denied.")
}

// quote doubles quotes in a path for a 257 reply (RFC 959 appendix II).
func quote(vpath string) string {
	return `"` + strings.ReplaceAll(vpath, `"`, `""`) + `"`
}

func (s *session) cmdPWD(ctx context.Context, _ string) (*ftp.Reply, error) {
	return s.replyPath(ftp.CodePathCreated, s.cwd, " is the current directory.")
}

// replyPath answers code with the quoted vpath followed by text. A CR in
// the path goes out as CR NUL (RFC 2640 3.1), written as is: ftp.Format
// would take the CR for a line end and drop it.
func (s *session) replyPath(code int, vpath, text string) (*ftp.Reply, error) {
	if !strings.Contains(vpath, "\r") {
		return reply(code, quote(vpath)+text), nil
	}
	_ = s.writeRaw([]byte(strconv.Itoa(code) + " " + quote(ftp.EncodePath(vpath)) + text + "\r\n"))
	return nil, nil
}

func (s *session) cmdCWD(ctx context.Context, arg string) (*ftp.Reply, error) {
	vpath, name, err := s.resolve(arg)
	if err != nil {
		return nil, err
	}
	fi, err := s.statFollow(ctx, name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return reply(ftp.CodeFileActionDenied, "Not a directory."), nil
	}
	s.cwd = vpath
	return reply(ftp.CodeFileActionOK, "Directory successfully changed."), nil
}

func (s *session) cmdCDUP(ctx context.Context, _ string) (*ftp.Reply, error) {
	return s.cmdCWD(ctx, "..")
}

func (s *session) cmdMKD(ctx context.Context, arg string) (*ftp.Reply, error) {
	if err := s.need(PermMkdir); err != nil {
		return nil, err
	}
	vpath, name, err := s.resolveNew(arg)
	if err != nil {
		return nil, err
	}
	if r := s.checkDepth(vpath); r != nil {
		return r, nil
	}
	if err := s.user.FS.Mkdir(ctx, name); err != nil {
		return nil, err
	}
	s.log.Info("mkdir", "path", vpath)
	return s.replyPath(ftp.CodePathCreated, vpath, " created.")
}

func (s *session) cmdRMD(ctx context.Context, arg string) (*ftp.Reply, error) {
	if err := s.need(PermRmdir); err != nil {
		return nil, err
	}
	vpath, name, err := s.resolve(arg)
	if err != nil {
		return nil, err
	}
	if name == "." {
		return reply(ftp.CodeFileActionDenied, "Cannot remove the root directory."), nil
	}
	if err := s.user.FS.RemoveDir(ctx, name); err != nil {
		return nil, err
	}
	s.log.Info("rmdir", "path", vpath)
	return reply(ftp.CodeFileActionOK, "Directory removed."), nil
}

func (s *session) cmdDELE(ctx context.Context, arg string) (*ftp.Reply, error) {
	if err := s.need(PermDelete); err != nil {
		return nil, err
	}
	vpath, name, err := s.resolve(arg)
	if err != nil {
		return nil, err
	}
	var fi fs.FileInfo
	if s.quota() != nil {
		fi, _ = s.user.FS.Stat(ctx, name) // for the quota, after the remove
	}
	if err := s.user.FS.Remove(ctx, name); err != nil {
		return nil, err
	}
	s.releaseFile(fi)
	s.log.Info("delete", "path", vpath)
	return reply(ftp.CodeFileActionOK, "File deleted."), nil
}

func (s *session) cmdRNFR(ctx context.Context, arg string) (*ftp.Reply, error) {
	if err := s.need(PermRename); err != nil {
		return nil, err
	}
	vpath, name, err := s.resolve(arg)
	if err != nil {
		return nil, err
	}
	if name == "." {
		return reply(ftp.CodeFileActionDenied, "Cannot rename the root directory."), nil
	}
	if _, err := s.user.FS.Stat(ctx, name); err != nil {
		return nil, err
	}
	s.renameFrom = vpath
	return reply(ftp.CodeFilePending, "Ready for RNTO."), nil
}

func (s *session) cmdRNTO(ctx context.Context, arg string) (*ftp.Reply, error) {
	from := s.renameFrom
	s.renameFrom = ""
	if from == "" {
		return reply(ftp.CodeBadSequence, "RNFR required first."), nil
	}
	if err := s.need(PermRename); err != nil {
		return nil, err
	}
	to, toName, err := s.resolveNew(arg)
	if err != nil {
		return nil, err
	}
	if toName == "." {
		return reply(ftp.CodeBadFileName, "File name not allowed."), nil
	}
	_, fromName := s.clean(from) // resolved and checked by RNFR
	if fi, err := s.user.FS.Stat(ctx, fromName); err == nil && fi.IsDir() {
		// A directory moved deeper must not pass the depth limit. (Its
		// own subtree is not measured: the limit bounds what MKD makes.)
		if r := s.checkDepth(to); r != nil {
			return r, nil
		}
	}
	// Replacing an existing file is an overwrite and needs that right too.
	replaced, err := s.user.FS.Stat(ctx, toName)
	if err == nil {
		if err := s.need(PermOverwrite); err != nil {
			return nil, err
		}
	}
	if err := s.user.FS.Rename(ctx, fromName, toName); err != nil {
		return nil, err
	}
	s.releaseFile(replaced)
	s.log.Info("rename", "from", from, "to", to)
	return reply(ftp.CodeFileActionOK, "Rename successful."), nil
}

// statFile describes a path that must be a regular file, or a link to one
// that stays inside the user's root (SIZE, MDTM, MFMT, HASH).
func (s *session) statFile(ctx context.Context, arg string) (fs.FileInfo, string, error) {
	vpath, name, err := s.resolve(arg)
	if err != nil {
		return nil, vpath, err
	}
	fi, err := s.statFollow(ctx, name)
	if err != nil {
		return nil, vpath, err
	}
	if !fi.Mode().IsRegular() {
		return nil, vpath, reply(ftp.CodeFileActionDenied, "Not a plain file.")
	}
	return fi, name, nil
}

// statFollow describes name, and a symbolic link by what it leads to, as
// vsftpd and ProFTPD do: RETR sends the file a link leads to, CWD enters
// the directory, LIST and MLSD list it. The backend's Open and ReadDir
// confine a link to the user's root; one that leads out of it (or
// nowhere) fails as they fail.
func (s *session) statFollow(ctx context.Context, name string) (fs.FileInfo, error) {
	fi, err := s.user.FS.Stat(ctx, name)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return fi, err
	}
	if d, derr := s.user.FS.ReadDir(ctx, name); derr == nil {
		_ = d.Close()
		return linkedDir{fi}, nil
	}
	f, err := s.user.FS.Open(ctx, name, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return fileInfo(ctx, s.user.FS, f, name)
}

// linkedDir describes a link to a directory as the directory: only its
// kind is known without a stat through the link, which the storage
// contract does not offer.
type linkedDir struct{ fs.FileInfo }

func (l linkedDir) Mode() fs.FileMode { return fs.ModeDir | 0o755 }
func (l linkedDir) IsDir() bool       { return true }

func (s *session) cmdSIZE(ctx context.Context, arg string) (*ftp.Reply, error) {
	if err := s.need(PermList); err != nil {
		return nil, err
	}
	fi, name, err := s.statFile(ctx, arg)
	if err != nil {
		return nil, err
	}
	if s.binary {
		return reply(ftp.CodeFileStatus, strconv.FormatInt(fi.Size(), 10)), nil
	}
	// RFC 3659 4: SIZE is the octets a RETR would send, which in ASCII
	// mode are counted by converting the file as RETR would. That costs a
	// read of the file, so a big one is refused instead, as RFC 3659
	// allows (ProFTPD refuses every one).
	if fi.Size() > asciiSizeMax {
		return reply(ftp.CodeFileActionDenied, "SIZE of a file this big not given in ASCII mode; send TYPE I first."), nil
	}
	f, err := s.user.FS.Open(ctx, name, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var n countingWriter
	if _, err := copyGeneric(ftp.NewCRLFWriter(&n), &ctxReader{ctx: ctx, r: f}, nil, nil, nil); err != nil {
		return nil, err
	}
	return reply(ftp.CodeFileStatus, strconv.FormatInt(int64(n), 10)), nil
}

func (s *session) cmdMDTM(ctx context.Context, arg string) (*ftp.Reply, error) {
	if err := s.need(PermList); err != nil {
		return nil, err
	}
	fi, _, err := s.statFile(ctx, arg)
	if err != nil {
		return nil, err
	}
	return reply(ftp.CodeFileStatus, ftp.FormatTime(fi.ModTime())), nil
}

// cmdMFMT sets a file's modification time (draft-somers-ftp-mfxx).
func (s *session) cmdMFMT(ctx context.Context, arg string) (*ftp.Reply, error) {
	if err := s.need(PermOverwrite); err != nil {
		return nil, err
	}
	ts, p, ok := strings.Cut(arg, " ")
	if !ok || p == "" {
		return reply(ftp.CodeBadArguments, "Usage: MFMT YYYYMMDDHHMMSS path"), nil
	}
	t, err := ftp.ParseTime(ts)
	if err != nil {
		return reply(ftp.CodeBadArguments, "Bad time value."), nil
	}
	_, name, err := s.statFile(ctx, p)
	if err != nil {
		return nil, err
	}
	ct, ok := s.user.FS.(storage.Chtimeser)
	if !ok {
		return reply(ftp.CodeNotImplemented, "MFMT not supported by this storage."), nil
	}
	if err := ct.Chtimes(ctx, name, t); err != nil {
		return nil, err
	}
	return reply(ftp.CodeFileStatus, "Modify="+ftp.FormatTime(t)+"; "+p), nil
}

func (s *session) cmdSITE(ctx context.Context, arg string) (*ftp.Reply, error) {
	verb, rest, _ := strings.Cut(strings.TrimSpace(arg), " ")
	switch strings.ToUpper(verb) {
	case "HELP":
		return reply(ftp.CodeHelp, "The following SITE commands are recognized.\n CHMOD HELP\nHelp OK."), nil
	case "CHMOD":
		return s.siteChmod(ctx, rest)
	}
	return reply(ftp.CodeNotImplemented, "Unknown SITE command."), nil
}

func (s *session) siteChmod(ctx context.Context, arg string) (*ftp.Reply, error) {
	if err := s.need(PermChmod); err != nil {
		return nil, err
	}
	modeStr, p, ok := strings.Cut(strings.TrimSpace(arg), " ")
	mode, err := strconv.ParseUint(modeStr, 8, 32)
	if !ok || p == "" || err != nil || mode > 0o7777 {
		return reply(ftp.CodeBadArguments, "Usage: SITE CHMOD <octal mode> <path>"), nil
	}
	ch, ok := s.user.FS.(storage.Chmoder)
	if !ok {
		return reply(ftp.CodeNotImplemented, "CHMOD not supported by this storage."), nil
	}
	vpath, name, err := s.resolve(p)
	if err != nil {
		return nil, err
	}
	// setuid, setgid and sticky bits are never granted to FTP users.
	if err := ch.Chmod(ctx, name, fs.FileMode(mode&0o777)); err != nil {
		return nil, err
	}
	s.log.Info("chmod", "path", vpath, "mode", fmt.Sprintf("%04o", mode&0o777))
	return reply(ftp.CodeOK, "SITE CHMOD command ok."), nil
}

// asciiSizeMax is the largest file whose SIZE is counted in ASCII mode.
const asciiSizeMax = 16 << 20

// countingWriter counts what is written to it.
type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
