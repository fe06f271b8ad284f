package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"

	"github.com/ferry-ftp/ferry/ftp"
)

// LsCmd is `ferry ls`.
type LsCmd struct {
	URL       string `arg:"" placeholder:"URL" help:"ftp:// or ftps:// URL of a directory or a file."`
	Long      bool   `short:"l" help:"Long format: mode, size, modification time (UTC), name."`
	ConnFlags `embed:""`
}

// Help is shown by ferry ls --help.
func (c *LsCmd) Help() string {
	return "Uses MLSD when the server offers it, else LIST in its Unix or Windows/IIS forms.\n\n" + exitCodesHelp
}

// Run lists.
func (c *LsCmd) Run(ctx context.Context, env *Env) error {
	s, err := c.connect(ctx, env, c.URL)
	if err != nil {
		return finish(modeOf(c.Mode), err)
	}
	defer s.close(ctx)
	entries, err := s.List(ctx, s.remote.Path)
	if err != nil && errors.As(err, new(*ftp.Reply)) && s.remote.Path != "" && !s.isDir(ctx, s.remote.Path) {
		// A file: MLSD and some LISTs refuse one, SIZE and MDTM do not.
		size, serr := s.Size(ctx, s.remote.Path)
		if serr == nil {
			mtime, _ := s.ModTime(ctx, s.remote.Path)
			entries, err = []ftp.Entry{{Name: path.Base(s.remote.Path), Type: ftp.EntryFile, Size: size, ModTime: mtime}}, nil
		}
	}
	if err != nil {
		return finish(s.mode, fmt.Errorf("ls %s: %w", displayRemote(s.remote.Path), err))
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	for _, e := range entries {
		if c.Long {
			writeLong(env.Stdout, e)
		} else {
			fmt.Fprintln(env.Stdout, e.Name)
		}
	}
	return nil
}

// writeLong prints an entry as "drwxr-xr-x  4096  2024-05-01 12:00  name".
func writeLong(w io.Writer, e ftp.Entry) {
	mode := e.Mode
	if mode == 0 || mode.Type() == 0 && e.Type != ftp.EntryFile {
		switch e.Type {
		case ftp.EntryDir:
			mode |= fs.ModeDir
		case ftp.EntryLink:
			mode |= fs.ModeSymlink
		case ftp.EntryOther:
			mode |= fs.ModeIrregular
		}
	}
	perm := mode.String()
	if mode.Perm() == 0 && e.Mode == 0 {
		perm = string(perm[0]) + "?????????"
	}
	when := "                "
	if !e.ModTime.IsZero() {
		when = e.ModTime.UTC().Format("2006-01-02 15:04")
	}
	name := e.Name
	if e.Target != "" {
		name += " -> " + e.Target
	}
	fmt.Fprintf(w, "%s  %12d  %s  %s\n", perm, e.Size, when, name)
}
