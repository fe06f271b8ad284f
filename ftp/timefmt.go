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
	// From the Unix time in one step: t.UTC().Date() and Clock() each
	// redo the conversion, and MLSD calls this once per entry.
	sec := t.Unix()
	days, secOfDay := sec/86400, sec%86400
	if secOfDay < 0 {
		days, secOfDay = days-1, secOfDay+86400
	}
	y, month, day := civilDate(days)
	hour, min, s := int(secOfDay/3600), int(secOfDay/60%60), int(secOfDay%60)
	switch {
	case y < 0:
		y, month, day, hour, min, s = 0, 1, 1, 0, 0, 0
	case y > 9999:
		y, month, day, hour, min, s = 9999, 12, 31, 23, 59, 59
	}
	dst = appendDigits(dst, int(y), 4)
	dst = appendDigits(dst, month, 2)
	dst = appendDigits(dst, day, 2)
	dst = appendDigits(dst, hour, 2)
	dst = appendDigits(dst, min, 2)
	return appendDigits(dst, s, 2)
}

// civilDate returns the proleptic Gregorian date (as time.Time.Date
// does in UTC) of the day that is days after 1970-01-01. It counts in
// 400-year eras of 146,097 days that start on 1 March, so that the leap
// day is the last day of its year and needs no case of its own.
func civilDate(days int64) (year int64, month, day int) {
	const (
		eraDays    = 146097 // days in 400 Gregorian years
		marchToEpo = 719468 // days from 0000-03-01 to 1970-01-01
	)
	z := days + marchToEpo
	era := z / eraDays
	if z%eraDays < 0 {
		era-- // round towards minus infinity
	}
	doe := z - era*eraDays                                 // day of the era, 0-146096
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // year of the era, 0-399
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // day of the year from 1 March, 0-365
	mp := (5*doy + 2) / 153                                // month from March, 0-11
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp) + 3
	year = yoe + era*400
	if month > 12 {
		month -= 12
		year++ // January and February belong to the next calendar year
	}
	return year, month, day
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
	// The widths of dates and times, spelled out: once per listing entry.
	switch {
	case width == 2 && v < 100:
		return append(dst, byte('0'+v/10), byte('0'+v%10))
	case width == 4 && v < 10000:
		return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
	}
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
