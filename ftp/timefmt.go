package ftp

import (
	"errors"
	"time"
)

// ErrBadTime is returned by ParseTime for anything but an RFC 3659 time-val.
var ErrBadTime = errors.New("malformed time-val")

// FormatTime returns t in UTC as an RFC 3659 time-val, "YYYYMMDDHHMMSS",
// the form of the MDTM reply and the modify fact. The fraction is dropped:
// clients compare these strings and most send them back in MFMT verbatim.
func FormatTime(t time.Time) string {
	var b [14]byte
	return string(AppendTime(b[:0], t))
}

// AppendTime appends FormatTime(t) to dst without allocating when dst has
// room. Years outside 0-9999 cannot be written in four digits; they are
// clamped, since the time-val grammar has no other way to say them.
func AppendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	switch {
	case year < 0:
		year, month, day, hour, min, sec = 0, 1, 1, 0, 0, 0
	case year > 9999:
		year, month, day, hour, min, sec = 9999, 12, 31, 23, 59, 59
	}
	dst = appendDigits(dst, year, 4)
	dst = appendDigits(dst, int(month), 2)
	dst = appendDigits(dst, day, 2)
	dst = appendDigits(dst, hour, 2)
	dst = appendDigits(dst, min, 2)
	return appendDigits(dst, sec, 2)
}

// ParseTime parses an RFC 3659 time-val, "YYYYMMDDHHMMSS" with an optional
// fraction ".s+", always in UTC (section 2.3). Fields are checked against
// the calendar rather than normalised, so "20260230..." is an error and
// not the second of March. A leap second (60) is accepted, as the RFC
// allows, and read as 59: time.Time cannot hold it, and moving it into
// the next minute could move it into the next year, even past 9999.
func ParseTime(s string) (time.Time, error) {
	if len(s) < 14 {
		return time.Time{}, ErrBadTime
	}
	for i := 0; i < 14; i++ {
		if !isDigit(s[i]) {
			return time.Time{}, ErrBadTime
		}
	}
	year := atoiDigits(s[0:4])
	month := atoiDigits(s[4:6])
	day := atoiDigits(s[6:8])
	hour := atoiDigits(s[8:10])
	min := atoiDigits(s[10:12])
	sec := atoiDigits(s[12:14])
	if month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) ||
		hour > 23 || min > 59 || sec > 60 {
		return time.Time{}, ErrBadTime
	}
	if sec == 60 {
		sec = 59
	}
	nsec := 0
	if frac := s[14:]; frac != "" {
		if frac[0] != '.' || len(frac) == 1 {
			return time.Time{}, ErrBadTime
		}
		frac = frac[1:]
		for i := 0; i < len(frac); i++ {
			if !isDigit(frac[i]) {
				return time.Time{}, ErrBadTime
			}
		}
		// Digits past the ninth are below a nanosecond; ignore them.
		scale := 100_000_000
		for i := 0; i < len(frac) && i < 9; i++ {
			nsec += int(frac[i]-'0') * scale
			scale /= 10
		}
	}
	return time.Date(year, time.Month(month), day, hour, min, sec, nsec, time.UTC), nil
}

// daysIn returns the number of days in month m of year y.
func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// appendDigits appends v in decimal, zero-padded to width digits.
// v must not be negative.
func appendDigits(dst []byte, v, width int) []byte {
	var b [20]byte
	i := len(b)
	for v >= 10 || width > 1 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	i--
	b[i] = byte('0' + v)
	return append(dst, b[i:]...)
}

// atoiDigits converts a string of ASCII digits, already checked, to int.
func atoiDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
