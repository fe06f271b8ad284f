package server

import (
	"sort"
	"strings"
	"testing"

	"github.com/ferry-ftp/ferry/ftp"
)

func TestGlobbing(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.ListHidden = true })
	for _, n := range []string{"a.txt", "b.txt", "c.log", ".dot.txt", "a*b", "logs/x.log", "logs/y.log", "logs/z.txt", ".ferry-upload-1.txt"} {
		ts.write(t, n, []byte("x"))
	}
	c := dial(t, ts.addr)
	c.login("alice")
	nlst := func(arg string) []string {
		t.Helper()
		out := strings.Fields(string(readAll(t, c.open("EPSV", "NLST "+arg))))
		c.expect(ftp.CodeTransferComplete)
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
	out := string(readAll(t, c.open("EPSV", "LIST logs/*.log")))
	c.expect(ftp.CodeTransferComplete)
	if !strings.Contains(out, "logs/x.log") || !strings.Contains(out, "logs/y.log") || strings.Contains(out, "z.txt") {
		t.Errorf("LIST logs/*.log:\n%s", out)
	}
	if msg := c.cmd(ftp.CodeFileStatus, "STAT *.log"); !strings.Contains(msg, "c.log") || strings.Contains(msg, "a.txt") {
		t.Errorf("STAT *.log: %q", msg)
	}
	c.cmd(ftp.CodeExtendedPassive, "EPSV")
	c.cmd(ftp.CodeFileActionDenied, "NLST */x.log") // only the last element
	c.cmd(ftp.CodeExtendedPassive, "EPSV")
	c.cmd(ftp.CodeBadArguments, "NLST [") // a bad pattern
	c.cmd(ftp.CodeExtendedPassive, "EPSV")
	c.cmd(ftp.CodeFileActionDenied, "NLST nodir/*.txt")
	// Never out of the root: ".." is cleaned away before the pattern.
	if got := nlst("../../*"); len(got) == 0 {
		t.Error("NLST ../../* listed nothing, want the root's entries")
	}
	// Relative to the working directory, and absolute.
	c.cmd(ftp.CodeFileActionOK, "CWD logs")
	if got := strings.Join(nlst("*.log"), " "); got != "x.log y.log" {
		t.Errorf("NLST *.log in /logs: %q", got)
	}
	if got := strings.Join(nlst("/*.txt"), " "); got != "/a.txt /b.txt" {
		t.Errorf("NLST /*.txt in /logs: %q", got)
	}
}
