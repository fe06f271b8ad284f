package client

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
)

// Noop sends NOOP, e.g. to keep an idle session alive.
func (c *Conn) Noop(ctx context.Context) error {
	_, err := c.cmd(ctx, ftp.CodeOK, "NOOP", "")
	return err
}

// Type selects binary (TYPE I) or ASCII (TYPE A) transfers. In ASCII
// mode the data is passed through in its network form, CRLF line ends
// included; converting them is the caller's choice.
func (c *Conn) Type(ctx context.Context, binary bool) error {
	t := "A"
	if binary {
		t = "I"
	}
	_, err := c.cmd(ctx, ftp.CodeOK, "TYPE", t)
	return err
}

// Cwd changes the working directory.
func (c *Conn) Cwd(ctx context.Context, dir string) error {
	_, err := c.cmd(ctx, 0, "CWD", dir)
	return err
}

// Cdup changes to the parent of the working directory.
func (c *Conn) Cdup(ctx context.Context) error {
	_, err := c.cmd(ctx, 0, "CDUP", "")
	return err
}

// Pwd returns the working directory.
func (c *Conn) Pwd(ctx context.Context) (string, error) {
	rep, err := c.cmd(ctx, ftp.CodePathCreated, "PWD", "")
	if err != nil {
		return "", err
	}
	return quotedPath(rep.Msg)
}

// Mkdir creates dir and returns the path the server reports for it.
func (c *Conn) Mkdir(ctx context.Context, dir string) (string, error) {
	rep, err := c.cmd(ctx, ftp.CodePathCreated, "MKD", dir)
	if err != nil {
		return "", err
	}
	if p, err := quotedPath(rep.Msg); err == nil {
		return p, nil
	}
	return dir, nil // the reply named no path; RFC 959 asks for one, not all servers oblige
}

// quotedPath extracts the path from a 257 reply: "PATH" with embedded
// quotes doubled (RFC 959 Appendix II).
func quotedPath(msg string) (string, error) {
	start := strings.IndexByte(msg, '"')
	if start < 0 {
		return "", fmt.Errorf("ftp: no quoted path in %q", msg)
	}
	var b strings.Builder
	for i := start + 1; i < len(msg); i++ {
		if msg[i] != '"' {
			b.WriteByte(msg[i])
			continue
		}
		if i+1 < len(msg) && msg[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("ftp: unterminated quoted path in %q", msg)
}

// Rmdir removes the directory dir.
func (c *Conn) Rmdir(ctx context.Context, dir string) error {
	_, err := c.cmd(ctx, ftp.CodeFileActionOK, "RMD", dir)
	return err
}

// Delete removes the file path.
func (c *Conn) Delete(ctx context.Context, path string) error {
	_, err := c.cmd(ctx, ftp.CodeFileActionOK, "DELE", path)
	return err
}

// Rename renames from to to with RNFR and RNTO.
func (c *Conn) Rename(ctx context.Context, from, to string) error {
	if _, err := c.cmd(ctx, ftp.CodeFilePending, "RNFR", from); err != nil {
		return err
	}
	_, err := c.cmd(ctx, ftp.CodeFileActionOK, "RNTO", to)
	return err
}

// Size returns the size of path (RFC 3659 SIZE). In ASCII mode servers
// may report the size after line-ending conversion, or refuse.
func (c *Conn) Size(ctx context.Context, path string) (int64, error) {
	rep, err := c.cmd(ctx, ftp.CodeFileStatus, "SIZE", path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(rep.Msg), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("ftp: malformed SIZE reply %q", rep.Msg)
	}
	return n, nil
}

// ModTime returns the modification time of path (RFC 3659 MDTM), in UTC.
func (c *Conn) ModTime(ctx context.Context, path string) (time.Time, error) {
	rep, err := c.cmd(ctx, ftp.CodeFileStatus, "MDTM", path)
	if err != nil {
		return time.Time{}, err
	}
	t, err := ftp.ParseTime(strings.TrimSpace(rep.Msg))
	if err != nil {
		return time.Time{}, fmt.Errorf("ftp: MDTM reply %q: %w", rep.Msg, err)
	}
	return t, nil
}

// SetModTime sets the modification time of path with MFMT
// (draft-somers-ftp-mfxx). If the server does not know MFMT it tries
// the older two-argument "MDTM time path" that vsftpd and others accept.
func (c *Conn) SetModTime(ctx context.Context, path string, t time.Time) error {
	ts := ftp.FormatTime(t)
	_, err := c.cmd(ctx, ftp.CodeFileStatus, "MFMT", ts+" "+path)
	if !refusedCommand(err) {
		return err
	}
	c.note("MFMT refused (%v); trying MDTM with two arguments", err)
	_, err = c.cmd(ctx, ftp.CodeFileStatus, "MDTM", ts+" "+path)
	return err
}

// refusedCommand reports whether err is a reply meaning "command not
// known or not implemented" (500, 502).
func refusedCommand(err error) bool {
	var rep *ftp.Reply
	return errors.As(err, &rep) && (rep.Code == ftp.CodeSyntaxError || rep.Code == ftp.CodeNotImplemented)
}

// Hash asks the server for the hash of path with the HASH command
// (draft-bryan-ftpext-hash, as FileZilla uses it): algo is a name the
// server lists in FEAT, e.g. "SHA-256"; it is selected with OPTS HASH
// first unless already current. The hash is returned as the server
// sends it, in hex.
func (c *Conn) Hash(ctx context.Context, path, algo string) (string, error) {
	algos, ok := c.features["HASH"]
	if !ok {
		return "", fmt.Errorf("ftp: server does not advertise HASH: %w", ftp.Errorf(ftp.CodeNotImplemented, "HASH not in FEAT"))
	}
	current := ""
	for _, a := range strings.Split(algos, ";") {
		if name, ok := strings.CutSuffix(a, "*"); ok {
			current = name
		}
	}
	if !strings.EqualFold(current, algo) {
		if _, err := c.cmd(ctx, ftp.CodeOK, "OPTS", "HASH "+algo); err != nil {
			return "", err
		}
		c.features["HASH"] = markCurrent(algos, algo)
	}
	rep, err := c.cmd(ctx, ftp.CodeFileStatus, "HASH", path)
	if err != nil {
		return "", err
	}
	// "213 SHA-256 0-1234 <hex> <path>"
	f := strings.Fields(rep.Msg)
	if len(f) < 3 || !strings.EqualFold(f[0], algo) {
		return "", fmt.Errorf("ftp: malformed HASH reply %q", rep.Msg)
	}
	return strings.ToLower(f[2]), nil
}

func markCurrent(algos, cur string) string {
	parts := strings.Split(algos, ";")
	for i, a := range parts {
		a = strings.TrimSuffix(a, "*")
		if strings.EqualFold(a, cur) {
			a += "*"
		}
		parts[i] = a
	}
	return strings.Join(parts, ";")
}

// Stat returns the text of STAT: the server's status with path "", or
// path's listing over the control connection otherwise.
func (c *Conn) Stat(ctx context.Context, path string) ([]string, error) {
	rep, err := c.cmd(ctx, 0, "STAT", path)
	if err != nil {
		return nil, err
	}
	if rep.Lines == nil {
		return []string{rep.Msg}, nil
	}
	return rep.Lines, nil
}

// Verify checks the server's copy of path against what the caller
// transferred: its SIZE must be size and, if sum (a SHA-256) is not nil
// and the server offers HASH with SHA-256, its hash must be sum. A check
// the server cannot do is skipped; Verify returns the names of the
// checks it made ("size", "SHA-256"). A mismatch, or a file the server
// cannot find, is an error wrapping ErrVerification.
func (c *Conn) Verify(ctx context.Context, path string, size int64, sum []byte) (checked []string, err error) {
	got, err := c.Size(ctx, path)
	switch {
	case refusedCommand(err):
		// No SIZE (RFC 959-only server): nothing to compare.
	case err != nil:
		if _, ok := err.(*ftp.Reply); ok {
			return nil, fmt.Errorf("%w: SIZE %s: %w", ErrVerification, path, err)
		}
		return nil, err
	case got != size:
		return nil, fmt.Errorf("%w: %s is %d bytes on the server, %d expected", ErrVerification, path, got, size)
	default:
		checked = append(checked, "size")
	}
	if sum == nil || !strings.Contains(strings.ToUpper(c.features["HASH"]), "SHA-256") {
		return checked, nil
	}
	h, err := c.Hash(ctx, path, "SHA-256")
	if err != nil {
		if _, ok := err.(*ftp.Reply); ok {
			return checked, fmt.Errorf("%w: HASH %s: %w", ErrVerification, path, err)
		}
		return checked, err
	}
	if want := hex.EncodeToString(sum); h != want {
		return checked, fmt.Errorf("%w: %s has SHA-256 %s on the server, %s expected", ErrVerification, path, h, want)
	}
	return append(checked, "SHA-256"), nil
}
