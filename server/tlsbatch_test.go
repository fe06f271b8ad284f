package server

import (
	"bytes"
	"net"
	"testing"
)

// writeLog is a net.Conn that records each write it is given.
type writeLog struct {
	net.Conn // nil: only Write and Close are used
	writes   [][]byte
	closed   bool
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func (w *writeLog) Close() error { w.closed = true; return nil }

func (w *writeLog) joined() []byte { return bytes.Join(w.writes, nil) }

func TestBatchConnGathersBetweenStartAndStop(t *testing.T) {
	under := &writeLog{}
	c := &batchConn{Conn: under}

	// Before start (the handshake) every write goes out at once.
	c.Write([]byte("hello"))
	if len(under.writes) != 1 {
		t.Fatalf("write before start was held back: %d writes", len(under.writes))
	}

	// 200 TLS-record-sized writes: gathered into batches of at most
	// tlsBatchSize, nothing lost or reordered.
	c.start()
	var want bytes.Buffer
	want.WriteString("hello")
	rec := make([]byte, 16<<10+29)
	for i := range 200 {
		for j := range rec {
			rec[j] = byte(i + j)
		}
		want.Write(rec)
		if n, err := c.Write(rec); n != len(rec) || err != nil {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
	}
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	// After stop (close_notify) writes go straight through again.
	c.Write([]byte("alert"))
	want.WriteString("alert")

	if !bytes.Equal(under.joined(), want.Bytes()) {
		t.Fatalf("bytes differ: got %d, want %d", len(under.joined()), want.Len())
	}
	total := 200 * len(rec)
	if max := 2 + (total+tlsBatchSize-1)/tlsBatchSize + 1; len(under.writes) > max {
		t.Fatalf("%d writes for %d bytes of records, want at most %d", len(under.writes), total, max)
	}
	for i, w := range under.writes {
		if len(w) > tlsBatchSize {
			t.Fatalf("write %d is %d bytes, over the batch size", i, len(w))
		}
	}
}

// A download that fails or is aborted never stops: Close drops what was
// gathered rather than sending a truncated tail after the failure.
func TestBatchConnCloseWithoutStopDrops(t *testing.T) {
	under := &writeLog{}
	c := &batchConn{Conn: under}
	c.start()
	c.Write([]byte("partial"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if len(under.writes) != 0 || !under.closed {
		t.Fatalf("close wrote %d times (want none), closed %v", len(under.writes), under.closed)
	}
}
