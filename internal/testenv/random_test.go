package testenv

import (
	"bytes"
	"testing"
)

func TestRandomBytesRepeatable(t *testing.T) {
	a, b := RandomBytes(4096), RandomBytes(100)
	if !bytes.Equal(a[:100], b) || !bytes.Equal(a, RandomBytes(4096)) {
		t.Fatal("RandomBytes differs between calls")
	}
	if bytes.Count(a, a[:1]) > 64 {
		t.Fatalf("RandomBytes repeats its first byte %d times in 4096", bytes.Count(a, a[:1]))
	}
}
