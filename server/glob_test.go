package server_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/internal/ftptest"
	"github.com/ferry-ftp/ferry/server"
)

func TestGlobbing(t *testing.T) {
	ts := ftptest.NewServer(t, func(c *server.Config) { c.ListHidden = true })
	for _, n := range []string{"a.txt", "b.txt", "c.log", ".dot.txt", "a*b", "logs/x.log", "logs/y.log", "logs/z.txt", ".ferry-upload-1.txt"} {
		ts.WriteFile(t, n, []byte("x"))
	}
	c := ts.Dial(t)
	c.Login(ftptest.User, ftptest.Password)
	nlst := func(arg string) []string {
		t.Helper()
		out := strings.Fields(string(ftptest.ReadAll(t, c.Open("EPSV", "NLST "+arg))))
		c.Expect(ftp.CodeTransferComplete)
		sort.Strings(out)
		return out
	}
	for arg, want := range map[string]string{
		"*.txt":      "a.txt b.txt", // no dot file, no temporary
		".*.txt":     ".dot.txt",    // a leading dot matched explicitly
		"logs/*.log": "logs/x.log logs/y.log",
		"logs/?.txt": "logs/z.txt",
		"[ab].txt":   "a.txt b.txt",
		"*.none":     "",
		"a*b":        "a*b", // exists: taken literally
	} {
		if got := strings.Join(nlst(arg), " "); got != want {
			t.Errorf("NLST %s: %q, want %q", arg, got, want)
		}
	}
	out := string(ftptest.ReadAll(t, c.Open("EPSV", "LIST logs/*.log")))
	c.Expect(ftp.CodeTransferComplete)
	if !strings.Contains(out, "logs/x.log") || !strings.Contains(out, "logs/y.log") || strings.Contains(out, "z.txt") {
		t.Errorf("LIST logs/*.log:\n%s", out)
	}
	if msg := c.Want(ftp.CodeFileStatus, "STAT *.log"); !strings.Contains(msg, "c.log") || strings.Contains(msg, "a.txt") {
		t.Errorf("STAT *.log: %q", msg)
	}
	c.Want(ftp.CodeExtendedPassive, "EPSV")
	c.Want(ftp.CodeFileActionDenied, "NLST */x.log") // only the last element
	c.Want(ftp.CodeExtendedPassive, "EPSV")
	c.Want(ftp.CodeBadArguments, "NLST [") // a bad pattern
	c.Want(ftp.CodeExtendedPassive, "EPSV")
	c.Want(ftp.CodeFileActionDenied, "NLST nodir/*.txt")
	// Never out of the root: ".." is cleaned away before the pattern.
	if got := nlst("../../*"); len(got) == 0 {
		t.Error("NLST ../../* listed nothing, want the root's entries")
	}
	// Relative to the working directory, and absolute.
	c.Want(ftp.CodeFileActionOK, "CWD logs")
	if got := strings.Join(nlst("*.log"), " "); got != "x.log y.log" {
		t.Errorf("NLST *.log in /logs: %q", got)
	}
	if got := strings.Join(nlst("/*.txt"), " "); got != "/a.txt /b.txt" {
		t.Errorf("NLST /*.txt in /logs: %q", got)
	}
}
