package ftp

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestCRLFConversion(t *testing.T) {
	for _, tc := range []struct{ local, wire string }{
		{"a\nb\n", "a\r\nb\r\n"},
		{"", ""},
		{"no end", "no end"},
		{"\n\n", "\r\n\r\n"},
		{"keep\r\nas is", "keep\r\nas is"},
		{"a\nb\r\nc\n", "a\r\nb\r\nc\r\n"},
	} {
		var w bytes.Buffer
		// One byte at a time: state must carry across writes.
		cw := NewCRLFWriter(&w)
		for i := range len(tc.local) {
			if _, err := cw.Write([]byte{tc.local[i]}); err != nil {
				t.Fatal(err)
			}
		}
		if w.String() != tc.wire {
			t.Errorf("CRLFWriter(%q) = %q, want %q", tc.local, w.String(), tc.wire)
		}
		got, err := io.ReadAll(NewCRLFReader(io.LimitReader(strings.NewReader(tc.local), 1<<20)))
		if err != nil || string(got) != tc.wire {
			t.Errorf("CRLFReader(%q) = %q, %v; want %q", tc.local, got, err, tc.wire)
		}
	}
}

func TestLFWriter(t *testing.T) {
	// CRLF split across writes, a lone CR kept, a CR at the very end.
	var b bytes.Buffer
	w := NewLFWriter(&b)
	for _, p := range []string{"a\r", "\nb\rc\r", "\r\n", "d\r"} {
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil || b.String() != "a\nb\rc\r\nd\r" {
		t.Errorf("LFWriter: %q, %v", b.String(), err)
	}
}
