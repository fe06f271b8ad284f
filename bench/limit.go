package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// The machine's limit for the same bytes: the same file moved over
// loopback TCP by the kernel's fast path, with no FTP, to the same
// discarding reader the load generator uses. Measured in each run, next
// to the servers, so that the ratio is taken under the same load.

// limits measures every limit the selected metrics name, in MiB/s.
func (b *bench) limits(ctx context.Context, want map[string]bool) (map[string]float64, error) {
	out := map[string]float64{}
	big := filepath.Join(b.env.root, bigFile)
	var err error
	if want["sendfile"] {
		out["sendfile"], err = sendfileLimit(ctx, big, 1, b.opts.size, nil)
	}
	if err == nil && want["sendfile-parallel"] {
		out["sendfile-parallel"], err = sendfileLimit(ctx, filepath.Join(b.env.root, parFile), b.opts.parallel, b.opts.parSize, nil)
	}
	if err == nil && want["tls"] {
		out["tls"], err = sendfileLimit(ctx, big, 1, b.opts.size, b.serverTLS)
	}
	if err == nil && want["splice"] {
		out["splice"], err = spliceLimit(ctx, filepath.Join(b.env.root, uploadDir, "limit.bin"), b.opts.size)
	}
	return out, err
}

// sendfileLimit serves path to streams readers at once over loopback and
// returns the aggregate rate. Without TLS the sender is io.Copy from an
// *os.File to a *net.TCPConn, which is sendfile(2); with TLS it is Go's
// crypto/tls with the servers' certificate.
func sendfileLimit(ctx context.Context, path string, streams int, size int64, serverTLS *tls.Config) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				f, err := os.Open(path)
				if err != nil {
					return
				}
				defer f.Close()
				c.SetDeadline(time.Now().Add(opTimeout))
				if serverTLS != nil {
					tc := tls.Server(c, serverTLS)
					io.Copy(tc, f)
					tc.Close()
					return
				}
				io.Copy(c, f)
			}()
		}
	}()
	var total atomic.Int64
	start := time.Now()
	err = forEach(streams, streams, func(int) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		if serverTLS != nil {
			c = tls.Client(c, &tls.Config{InsecureSkipVerify: true}) // our own listener, just opened
		}
		defer c.Close()
		n, err := discard(c, make([]byte, bufSize))
		total.Add(n)
		if err == nil && n != size {
			err = fmt.Errorf("limit: read %d bytes, want %d", n, size)
		}
		return err
	})
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	return mibps(total.Load(), d), nil
}

// spliceLimit receives size bytes over loopback into a new file at path
// with io.Copy from the *net.TCPConn to the *os.File (splice(2)), sent
// from memory with the load generator's buffer.
func spliceLimit(ctx context.Context, path string, size int64) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	defer os.Remove(path)
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		c.SetDeadline(time.Now().Add(opTimeout))
		n, err := io.Copy(f, c)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil && n != size {
			err = fmt.Errorf("limit: wrote %d bytes, want %d", n, size)
		}
		done <- err
	}()
	start := time.Now()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	_, err = send(c, randomBuf(), size)
	c.Close()
	if err != nil {
		return 0, err
	}
	if err := <-done; err != nil {
		return 0, err
	}
	return mibps(size, time.Since(start)), nil
}
