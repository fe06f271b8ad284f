package doctor

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteText prints the report for a person: one line per check with
// its outcome, then the cause and hint of each problem, the verdict and
// the firewall channels.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("ferry doctor %s\n\n", r.Target)
	for _, c := range r.Checks {
		status := "ok"
		switch {
		case c.Skipped && c.OK:
			status = "n/a"
		case c.Skipped:
			status = "skip"
		case !c.OK:
			status = "FAIL"
		case c.Cause != "":
			status = "warn"
		}
		dur := ""
		if c.Duration > 0 {
			dur = " (" + roundDuration(c.Duration).String() + ")"
		}
		ew.printf("%-4s  %-7s  %s%s\n", status, c.Name, c.Detail, dur)
		if c.Cause != "" {
			ew.printf("               cause: %s\n", c.Cause)
		}
		if c.Hint != "" {
			ew.printf("               hint:  %s\n", c.Hint)
		}
	}
	ew.printf("\nverdict: %s\n", r.Verdict.Summary)
	if len(r.Verdict.Channels) > 0 {
		ew.printf("\nfirewall channels (open now: seen working in this run):\n")
		for _, ch := range r.Verdict.Channels {
			seen := "        "
			if ch.Seen {
				seen = "open now"
			}
			ew.printf("  %s  %-7s %-6s %s\n", seen, ch.For, ch.Side+":", ch.Rule)
		}
	}
	return ew.err
}

// WriteJSON prints the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// errWriter keeps the first write error so that printing code stays flat.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
