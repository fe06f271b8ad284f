package ftp

import (
	"errors"
	"testing"
	"time"
)

var timeTests = []struct {
	in   string
	want time.Time // zero for an error
}{
	{"20261124130500", time.Date(2026, 11, 24, 13, 5, 0, 0, time.UTC)},
	{"19700101000000", time.Unix(0, 0).UTC()},
	{"00010101000001", time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)},
	{"20240229235959", time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)},
	{"20261124130500.5", time.Date(2026, 11, 24, 13, 5, 0, 500_000_000, time.UTC)},
	{"20261124130500.123", time.Date(2026, 11, 24, 13, 5, 0, 123_000_000, time.UTC)},
	{"20261124130500.1234567891", time.Date(2026, 11, 24, 13, 5, 0, 123_456_789, time.UTC)},
	{"20161231235960", time.Date(2016, 12, 31, 23, 59, 59, 0, time.UTC)}, // leap second
	{"20250229000000", time.Time{}},
	{"20261324130500", time.Time{}},
	{"20261100130500", time.Time{}},
	{"20261124240000", time.Time{}},
	{"20261124136000", time.Time{}},
	{"20261124130561", time.Time{}},
	{"2026112413050", time.Time{}},
	{"20261124130500.", time.Time{}},
	{"20261124130500.x", time.Time{}},
	{"20261124130500Z", time.Time{}},
	{"20261124130500 ", time.Time{}},
	{"+0261124130500", time.Time{}},
	{"2026-11-24 13:05", time.Time{}},
	{"", time.Time{}},
}

func TestParseTime(t *testing.T) {
	for _, tt := range timeTests {
		got, err := ParseTime(tt.in)
		if tt.want.IsZero() {
			if !errors.Is(err, ErrBadTime) {
				t.Errorf("ParseTime(%q) = %v, %v; want ErrBadTime", tt.in, got, err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatTime(t *testing.T) {
	east := time.FixedZone("east", 5*3600)
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 11, 24, 13, 5, 0, 999_999_999, time.UTC), "20261124130500"},
		{time.Date(2026, 11, 24, 18, 5, 7, 0, east), "20261124130507"},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "00010101000000"},
		{time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), "99991231235959"},
		{time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), "00000101000000"},
	}
	for _, tt := range tests {
		if got := FormatTime(tt.t); got != tt.want {
			t.Errorf("FormatTime(%v) = %q, want %q", tt.t, got, tt.want)
		}
		if _, err := ParseTime(FormatTime(tt.t)); err != nil {
			t.Errorf("ParseTime(FormatTime(%v)): %v", tt.t, err)
		}
	}
}
