package ftp

import (
	"errors"
	"fmt"
	"math/rand/v2"
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

// oldAppendTime is AppendTime as it was written before it computed the
// date from the Unix time itself: through time's own calendar.
func oldAppendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	switch {
	case year < 0:
		year, month, day, hour, min, sec = 0, 1, 1, 0, 0, 0
	case year > 9999:
		year, month, day, hour, min, sec = 9999, 12, 31, 23, 59, 59
	}
	return fmt.Appendf(dst, "%04d%02d%02d%02d%02d%02d", year, int(month), day, hour, min, sec)
}

// TestAppendTimeMatchesTime checks AppendTime against time's calendar for
// every day from 1600 to 2500, the edges of the four-digit years and of
// the Unix epoch, and random times as far as time.Time reaches.
func TestAppendTimeMatchesTime(t *testing.T) {
	check := func(tm time.Time) {
		t.Helper()
		if got, want := string(AppendTime(nil, tm)), string(oldAppendTime(nil, tm)); got != want {
			t.Fatalf("AppendTime(%v) = %q, want %q", tm, got, want)
		}
	}
	start := time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := start; d.Year() < 2500; d = d.AddDate(0, 0, 1) {
		check(d.Add(37*time.Hour%(24*time.Hour) + 59*time.Minute + 59*time.Second))
	}
	for _, tm := range []time.Time{
		time.Unix(0, 0), time.Unix(-1, 0), time.Unix(-1, 999_999_999), time.Unix(1, 0),
		time.Unix(-86400, 0), time.Unix(-86401, 0), time.Unix(86399, 0),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(0, 1, 1, 0, 0, 0, -1, time.UTC),
		time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(0, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 23, 59, 59, 0, time.UTC), time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 24, 18, 5, 7, 0, time.FixedZone("east", 5*3600)),
		time.Date(1970, 1, 1, 1, 0, 0, 0, time.FixedZone("east", 2*3600)),
		{}, time.Unix(1<<62, 0), time.Unix(-1<<62, 0),
	} {
		check(tm)
	}
	// Random times within ±12,000 years, and a quarter of them anywhere
	// up to ±2^62 s (time.Time's own calendar wraps around a little
	// beyond ±2^63 s, where the two cannot agree).
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		sec := r.Int64N(2*400_000_000_000) - 400_000_000_000
		if r.IntN(4) == 0 {
			sec = r.Int64N(1<<62) >> r.IntN(62)
			if r.IntN(2) == 0 {
				sec = -sec
			}
		}
		check(time.Unix(sec, r.Int64N(1e9)))
	}
}
