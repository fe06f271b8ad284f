package server

import (
	"context"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/storage"
)

// Globbing in NLST, LIST and STAT ("NLST *.txt", "LIST logs/*.log"), as
// classic clients expect of a server: tnftp's mget sends the pattern and
// retrieves the names it gets back. Only the last element of a path may
// be a pattern (*, ?, [...] of path.Match); the directory is resolved like
// any path, so a pattern never leaves it, and the listing of a directory
// never holds "." or "..", so nothing matches them. Matches stream from
// the directory in batches, as an ordinary listing does, and a leading
// dot must be matched explicitly, as in a shell.

// globMeta are the characters that make a path's last element a pattern.
const globMeta = "*?["

// maxGlobMatches bounds what one pattern lists; a directory of millions
// of entries is still read through, batch by batch, within the
// transfer's stall rule and the session's life.
const maxGlobMatches = 100_000

// listTarget is what a listing command lists: fi and, for a directory or
// a pattern, the entries to list (nil for a single file).
type listTarget struct {
	fi   fs.FileInfo
	dir  storage.DirReader
	glob bool // dir holds a pattern's matches, dot files already chosen
}

// openListing resolves a listing's argument p: a file, a directory, or,
// when nothing of that name exists and its last element has pattern
// characters, the entries of its directory that match. A name that
// exists is taken literally, so a file called "a*b" can be listed.
func (s *session) openListing(ctx context.Context, p string) (listTarget, error) {
	_, name, err := s.resolve(p)
	if err != nil {
		return listTarget{}, err
	}
	fi, err := s.statFollow(ctx, name)
	switch {
	case err == nil && fi.IsDir():
		dir, err := s.user.FS.ReadDir(ctx, name)
		return listTarget{fi: fi, dir: dir}, err
	case err == nil:
		return listTarget{fi: fi}, nil
	case !strings.ContainsAny(path.Base(p), globMeta):
		return listTarget{}, err
	}
	dirArg, pattern := path.Split(p)
	if strings.ContainsAny(dirArg, globMeta) {
		return listTarget{}, reply(ftp.CodeFileActionDenied, "Only the last element of a path may be a pattern.")
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return listTarget{}, reply(ftp.CodeBadArguments, "Bad pattern.")
	}
	dirPath := "." // the working directory
	if dirArg != "" {
		dirPath = dirArg // "/" stays the root; "logs/" is logs
	}
	_, dirName, err := s.resolve(dirPath)
	if err != nil {
		return listTarget{}, err
	}
	dfi, err := s.statFollow(ctx, dirName)
	if err != nil {
		return listTarget{}, err
	}
	if !dfi.IsDir() {
		return listTarget{}, reply(ftp.CodeFileActionDenied, "Not a directory.")
	}
	dir, err := s.user.FS.ReadDir(ctx, dirName)
	if err != nil {
		return listTarget{}, err
	}
	g := &globReader{dir: dir, pattern: pattern, prefix: dirArg, left: maxGlobMatches}
	return listTarget{fi: dfi, dir: g, glob: true}, nil
}

// globReader passes on the entries of dir that match pattern, named with
// prefix (the directory as the client wrote it: "logs/a.log", as a shell
// would expand "logs/*.log").
type globReader struct {
	dir     storage.DirReader
	pattern string
	prefix  string
	left    int // matches still allowed
}

func (g *globReader) match(name string) bool {
	if strings.HasPrefix(name, ".") && !strings.HasPrefix(g.pattern, ".") || strings.HasPrefix(name, atomicPrefix) {
		return false
	}
	ok, _ := path.Match(g.pattern, name) // checked in openListing
	return ok
}

func (g *globReader) Next(n int) ([]fs.FileInfo, error) {
	if g.left <= 0 {
		return nil, io.EOF // cut at maxGlobMatches
	}
	batch, err := g.dir.Next(n)
	out := batch[:0]
	for _, fi := range batch {
		if g.match(fi.Name()) && g.left > 0 {
			g.left--
			out = append(out, namedInfo{FileInfo: fi, name: g.prefix + fi.Name()})
		}
	}
	return out, err
}

func (g *globReader) NextNames(n int) ([]string, error) {
	if g.left <= 0 {
		return nil, io.EOF // cut at maxGlobMatches
	}
	var names []string
	var err error
	if nr, ok := g.dir.(storage.NameReader); ok {
		names, err = nr.NextNames(n)
	} else {
		var batch []fs.FileInfo
		batch, err = g.dir.Next(n)
		for _, fi := range batch {
			names = append(names, fi.Name())
		}
	}
	out := names[:0]
	for _, name := range names {
		if g.match(name) && g.left > 0 {
			g.left--
			out = append(out, g.prefix+name)
		}
	}
	return out, err
}

func (g *globReader) Close() error { return g.dir.Close() }

// namedInfo is an entry listed under another name.
type namedInfo struct {
	fs.FileInfo
	name string
}

func (n namedInfo) Name() string { return n.name }
