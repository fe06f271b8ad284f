package ftp

import (
	"errors"
	"fmt"
	"testing"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		code int
		text string
		want string
	}{
		{200, "OK", "200 OK\r\n"},
		{220, "", "220 \r\n"},
		{550, "bad\rname", "550 badname\r\n"},
		{550, "trailing CR\r", "550 trailing CR\r\n"},
		{211, "Features:\nMLST type*;\nEnd", "211-Features:\r\n MLST type*;\r\n211 End\r\n"},
		{211, "Features:\r\n UTF8\r\nEnd", "211-Features:\r\n  UTF8\r\n211 End\r\n"},
		// A middle line that looks like a final line is indented, so it cannot end the reply.
		{214, "Help\n214 fake end\nreal end", "214-Help\r\n 214 fake end\r\n214 real end\r\n"},
		{230, "two\nlines", "230-two\r\n230 lines\r\n"},
		{226, "ends in newline\n", "226-ends in newline\r\n226 \r\n"},
	}
	for _, tt := range tests {
		if got := string(Format(tt.code, tt.text)); got != tt.want {
			t.Errorf("Format(%d, %q) = %q, want %q", tt.code, tt.text, got, tt.want)
		}
	}
}

func TestReplyError(t *testing.T) {
	var err error = Errorf(CodeFileActionDenied, "No such file: %s", "a b")
	if got, want := err.Error(), "550 No such file: a b"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("retr: %w", err)
	var r *Reply
	if !errors.As(wrapped, &r) || r.Code != 550 {
		t.Fatalf("errors.As did not find the 550 reply in %v", wrapped)
	}
	tests := []struct {
		code                int
		positive, transient bool
	}{
		{150, true, false}, {226, true, false}, {331, true, false},
		{421, false, true}, {450, false, true}, {500, false, false},
		{550, false, false}, {99, false, false}, {600, false, false},
	}
	for _, tt := range tests {
		r := &Reply{Code: tt.code}
		if r.Positive() != tt.positive || r.Transient() != tt.transient {
			t.Errorf("code %d: Positive=%v Transient=%v, want %v %v",
				tt.code, r.Positive(), r.Transient(), tt.positive, tt.transient)
		}
	}
}
