package server

import (
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
func (s *session) resolve(arg string) (vpath, name string) {
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

func (s *session) cmdPWD(string) error {
	return reply(ftp.CodePathCreated, quote(s.cwd)+" is the current directory.")
}

func (s *session) cmdCWD(arg string) error {
	vpath, name := s.resolve(arg)
	fi, err := s.user.FS.Stat(s.ctx, name)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return reply(ftp.CodeFileActionDenied, "Not a directory.")
	}
	s.cwd = vpath
	return reply(ftp.CodeFileActionOK, "Directory successfully changed.")
}

func (s *session) cmdCDUP(string) error { return s.cmdCWD("..") }

func (s *session) cmdMKD(arg string) error {
	if err := s.need(PermMkdir); err != nil {
		return err
	}
	vpath, name := s.resolve(arg)
	if err := s.user.FS.Mkdir(s.ctx, name); err != nil {
		return err
	}
	s.log.Info("mkdir", "path", vpath)
	return reply(ftp.CodePathCreated, quote(vpath)+" created.")
}

func (s *session) cmdRMD(arg string) error {
	if err := s.need(PermRmdir); err != nil {
		return err
	}
	vpath, name := s.resolve(arg)
	if name == "." {
		return reply(ftp.CodeFileActionDenied, "Cannot remove the root directory.")
	}
	if err := s.user.FS.RemoveDir(s.ctx, name); err != nil {
		return err
	}
	s.log.Info("rmdir", "path", vpath)
	return reply(ftp.CodeFileActionOK, "Directory removed.")
}

func (s *session) cmdDELE(arg string) error {
	if err := s.need(PermDelete); err != nil {
		return err
	}
	vpath, name := s.resolve(arg)
	var fi fs.FileInfo
	if s.quota() != nil {
		fi, _ = s.user.FS.Stat(s.ctx, name) // for the quota, after the remove
	}
	if err := s.user.FS.Remove(s.ctx, name); err != nil {
		return err
	}
	s.releaseFile(fi)
	s.log.Info("delete", "path", vpath)
	return reply(ftp.CodeFileActionOK, "File deleted.")
}

func (s *session) cmdRNFR(arg string) error {
	if err := s.need(PermRename); err != nil {
		return err
	}
	vpath, name := s.resolve(arg)
	if name == "." {
		return reply(ftp.CodeFileActionDenied, "Cannot rename the root directory.")
	}
	if _, err := s.user.FS.Stat(s.ctx, name); err != nil {
		return err
	}
	s.renameFrom = vpath
	return reply(ftp.CodeFilePending, "Ready for RNTO.")
}

func (s *session) cmdRNTO(arg string) error {
	from := s.renameFrom
	s.renameFrom = ""
	if from == "" {
		return reply(ftp.CodeBadSequence, "RNFR required first.")
	}
	if err := s.need(PermRename); err != nil {
		return err
	}
	to, toName := s.resolve(arg)
	if toName == "." {
		return reply(ftp.CodeBadFileName, "File name not allowed.")
	}
	// Replacing an existing file is an overwrite and needs that right too.
	replaced, err := s.user.FS.Stat(s.ctx, toName)
	if err == nil {
		if err := s.need(PermOverwrite); err != nil {
			return err
		}
	}
	_, fromName := s.resolve(from)
	if err := s.user.FS.Rename(s.ctx, fromName, toName); err != nil {
		return err
	}
	s.releaseFile(replaced)
	s.log.Info("rename", "from", from, "to", to)
	return reply(ftp.CodeFileActionOK, "Rename successful.")
}

// statFile describes a path that must be a regular file, or a link to one
// that stays inside the user's root (SIZE, MDTM, MFMT, HASH).
func (s *session) statFile(arg string) (fs.FileInfo, string, error) {
	vpath, name := s.resolve(arg)
	fi, err := s.user.FS.Stat(s.ctx, name)
	if err != nil {
		return nil, vpath, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		// A link is described by what it leads to, as RETR sends what it
		// leads to; the storage's Open confines it to the user's root.
		f, err := s.user.FS.Open(s.ctx, name, 0)
		if err != nil {
			return nil, vpath, err
		}
		fi, err = fileInfo(s.ctx, s.user.FS, f, name)
		_ = f.Close()
		if err != nil {
			return nil, vpath, err
		}
	}
	if !fi.Mode().IsRegular() {
		return nil, vpath, reply(ftp.CodeFileActionDenied, "Not a plain file.")
	}
	return fi, name, nil
}

func (s *session) cmdSIZE(arg string) error {
	if err := s.need(PermList); err != nil {
		return err
	}
	fi, _, err := s.statFile(arg)
	if err != nil {
		return err
	}
	return reply(ftp.CodeFileStatus, strconv.FormatInt(fi.Size(), 10))
}

func (s *session) cmdMDTM(arg string) error {
	if err := s.need(PermList); err != nil {
		return err
	}
	fi, _, err := s.statFile(arg)
	if err != nil {
		return err
	}
	return reply(ftp.CodeFileStatus, ftp.FormatTime(fi.ModTime()))
}

// cmdMFMT sets a file's modification time (draft-somers-ftp-mfxx).
func (s *session) cmdMFMT(arg string) error {
	if err := s.need(PermOverwrite); err != nil {
		return err
	}
	ts, p, ok := strings.Cut(arg, " ")
	if !ok || p == "" {
		return reply(ftp.CodeBadArguments, "Usage: MFMT YYYYMMDDHHMMSS path")
	}
	t, err := ftp.ParseTime(ts)
	if err != nil {
		return reply(ftp.CodeBadArguments, "Bad time value.")
	}
	_, name, err := s.statFile(p)
	if err != nil {
		return err
	}
	ct, ok := s.user.FS.(storage.Chtimeser)
	if !ok {
		return reply(ftp.CodeNotImplemented, "MFMT not supported by this storage.")
	}
	if err := ct.Chtimes(s.ctx, name, t); err != nil {
		return err
	}
	return reply(ftp.CodeFileStatus, "Modify="+ftp.FormatTime(t)+"; "+p)
}

func (s *session) cmdSITE(arg string) error {
	verb, rest, _ := strings.Cut(strings.TrimSpace(arg), " ")
	switch strings.ToUpper(verb) {
	case "HELP":
		return reply(ftp.CodeHelp, "The following SITE commands are recognized.\n CHMOD HELP\nHelp OK.")
	case "CHMOD":
		return s.siteChmod(rest)
	}
	return reply(ftp.CodeNotImplemented, "Unknown SITE command.")
}

func (s *session) siteChmod(arg string) error {
	if err := s.need(PermChmod); err != nil {
		return err
	}
	modeStr, p, ok := strings.Cut(strings.TrimSpace(arg), " ")
	mode, err := strconv.ParseUint(modeStr, 8, 32)
	if !ok || p == "" || err != nil || mode > 0o7777 {
		return reply(ftp.CodeBadArguments, "Usage: SITE CHMOD <octal mode> <path>")
	}
	ch, ok := s.user.FS.(storage.Chmoder)
	if !ok {
		return reply(ftp.CodeNotImplemented, "CHMOD not supported by this storage.")
	}
	vpath, name := s.resolve(p)
	// setuid, setgid and sticky bits are never granted to FTP users.
	if err := ch.Chmod(s.ctx, name, fs.FileMode(mode&0o777)); err != nil {
		return err
	}
	s.log.Info("chmod", "path", vpath, "mode", fmt.Sprintf("%04o", mode&0o777))
	return reply(ftp.CodeOK, "SITE CHMOD command ok.")
}
