package cli

import "io"

// ASCII (TYPE A) transfers carry text with CRLF line ends (RFC 959
// 3.1.1.1); the shell's ascii mode converts them to and from the local
// LF, as the classic client does.

// toNetText reads r with every LF not already after a CR sent as CRLF.
func toNetText(r io.Reader) io.Reader { return &textReader{r: r} }

type textReader struct {
	r    io.Reader
	prev byte   // the last byte read from r
	in   []byte // read buffer
	out  []byte // converted bytes; out[off:] not yet returned
	off  int
}

func (t *textReader) Read(p []byte) (int, error) {
	if t.off == len(t.out) {
		t.out, t.off = t.out[:0], 0
		if t.in == nil {
			t.in = make([]byte, 32<<10)
		}
		n, err := t.r.Read(t.in)
		for _, c := range t.in[:n] {
			if c == '\n' && t.prev != '\r' {
				t.out = append(t.out, '\r')
			}
			t.out = append(t.out, c)
			t.prev = c
		}
		if len(t.out) == 0 {
			return 0, err
		}
	}
	n := copy(p, t.out[t.off:])
	t.off += n
	return n, nil
}

// textWriter writes what it is given with each CRLF turned into LF. A
// CR at the end of one Write is held until the next shows what follows
// it; Close writes a CR still held.
type textWriter struct {
	w  io.Writer
	cr bool // a CR is held
}

func fromNetText(w io.Writer) *textWriter { return &textWriter{w: w} }

func (t *textWriter) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p)+1)
	for _, c := range p {
		if t.cr {
			t.cr = false
			if c != '\n' {
				out = append(out, '\r')
			}
		}
		if c == '\r' {
			t.cr = true
			continue
		}
		out = append(out, c)
	}
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close writes a CR that ended the data.
func (t *textWriter) Close() error {
	if !t.cr {
		return nil
	}
	t.cr = false
	_, err := t.w.Write([]byte{'\r'})
	return err
}
