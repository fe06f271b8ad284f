package ftp

import "io"

// TYPE A (RFC 959 3.1.1.1) carries text with CRLF line ends. These
// converters stream in both directions with no limit on line length, for
// the server (LF files out, CRLF in) and the client (the other way round).

// appendCRLF appends p to dst with every LF that does not follow a CR
// (prev is the byte before p) turned into CRLF, and returns the last byte
// seen. Text that already has CRLF ends passes through unchanged.
func appendCRLF(dst, p []byte, prev byte) ([]byte, byte) {
	for _, b := range p {
		if b == '\n' && prev != '\r' {
			dst = append(dst, '\r')
		}
		dst = append(dst, b)
		prev = b
	}
	return dst, prev
}

// CRLFWriter writes LF line ends as CRLF.
type CRLFWriter struct {
	w    io.Writer
	prev byte
	out  []byte
}

// NewCRLFWriter returns a CRLFWriter writing to w.
func NewCRLFWriter(w io.Writer) *CRLFWriter { return &CRLFWriter{w: w} }

func (c *CRLFWriter) Write(p []byte) (int, error) {
	c.out, c.prev = appendCRLF(c.out[:0], p, c.prev)
	if _, err := c.w.Write(c.out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CRLFReader reads LF line ends as CRLF.
type CRLFReader struct {
	r    io.Reader
	prev byte
	in   []byte
	out  []byte // converted; out[off:] not yet returned
	off  int
}

// NewCRLFReader returns a CRLFReader reading from r.
func NewCRLFReader(r io.Reader) *CRLFReader { return &CRLFReader{r: r} }

func (c *CRLFReader) Read(p []byte) (int, error) {
	if c.off == len(c.out) {
		if c.in == nil {
			c.in = make([]byte, 32<<10)
		}
		n, err := c.r.Read(c.in)
		c.out, c.prev = appendCRLF(c.out[:0], c.in[:n], c.prev)
		c.off = 0
		if len(c.out) == 0 {
			return 0, err
		}
	}
	n := copy(p, c.out[c.off:])
	c.off += n
	return n, nil
}

// LFWriter writes CRLF line ends as LF; a lone CR is kept. A CR at the
// end of one Write is held until the next shows what follows it, so
// Flush must be called at the end of the data.
type LFWriter struct {
	w         io.Writer
	pendingCR bool
	out       []byte
}

// NewLFWriter returns an LFWriter writing to w.
func NewLFWriter(w io.Writer) *LFWriter { return &LFWriter{w: w} }

func (l *LFWriter) Write(p []byte) (int, error) {
	out := l.out[:0]
	for _, b := range p {
		if l.pendingCR {
			l.pendingCR = false
			if b != '\n' {
				out = append(out, '\r')
			}
		}
		if b == '\r' {
			l.pendingCR = true
			continue
		}
		out = append(out, b)
	}
	l.out = out
	if _, err := l.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a CR held back at the end of the data.
func (l *LFWriter) Flush() error {
	if !l.pendingCR {
		return nil
	}
	l.pendingCR = false
	_, err := l.w.Write([]byte{'\r'})
	return err
}
