package testenv

// RandomBytes returns n bytes that look random but are the same on every
// run (an xorshift sequence from a fixed seed), for test data checked
// byte for byte: a failure reproduces. A shorter call returns a prefix
// of a longer one.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
