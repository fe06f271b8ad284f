package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// The machine's limit for the same bytes: the same file moved over
// loopback TCP by the kernel's fast path, with no FTP, to the same
// discarding reader the load generator uses. Measured in each run, next
// to the servers, so that the ratio is taken under the same load.

// limits measures every limit the selected metrics name, in MiB/s.
func (b *bench) limits(ctx context.Context, want map[string]bool) (map[string]float64, error) {
	out := map[string]float64{}
	big := filepath.Join(b.env.root, sizedName("big", b.opts.size))
	var err error
	if want["sendfile"] {
		out["sendfile"], err = sendfileLimit(ctx, big, 1, b.opts.size, nil)
	}
	if err == nil && want["sendfile-parallel"] {
		out["sendfile-parallel"], err = sendfileLimit(ctx, filepath.Join(b.env.root, sizedName("par", b.opts.parSize)), b.opts.parallel, b.opts.parSize, nil)
	}
	if err == nil && want["tls"] {
		out["tls"], err = sendfileLimit(ctx, big, 1, b.opts.size, b.serverTLS)
	}
	if err == nil && want["receive"] {
		out["receive"], err = receiveLimit(ctx, filepath.Join(b.env.root, uploadDir, "limit.bin"), b.opts.size)
	}
	return out, err
}

// sendfileLimit serves path to streams readers at once over loopback and
// returns the aggregate rate. Without TLS the sender makes the socket
// blocking and calls sendfile(2) for the whole file, as a C server does,
// so that no user-space scheduler sits in between; with TLS it is Go's
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
				blockingSendfile(c.(*net.TCPConn), f, size)
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

// blockingSendfile sends size bytes of f on c with sendfile(2) on a
// blocking socket, on a thread of its own.
func blockingSendfile(c *net.TCPConn, f *os.File, size int64) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		if serr = syscall.SetNonblock(int(fd), false); serr != nil {
			return
		}
		var off int64
		for off < size {
			n, err := syscall.Sendfile(int(fd), int(f.Fd()), &off, int(min(size-off, 1<<30)))
			if err == syscall.EINTR {
				continue
			}
			if err != nil || n == 0 {
				serr = err
				return
			}
		}
	})
	return errors.Join(err, serr)
}

// blockingReceive reads c to the end on a blocking socket with a 1 MiB
// buffer and writes what it reads to f.
func blockingReceive(c *net.TCPConn, f *os.File) (int64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var total int64
	var rerr error
	buf := make([]byte, 1<<20)
	err = raw.Control(func(fd uintptr) {
		if rerr = syscall.SetNonblock(int(fd), false); rerr != nil {
			return
		}
		for {
			n, err := syscall.Read(int(fd), buf)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				rerr = err
				return
			}
			if n == 0 {
				return
			}
			if _, err := f.Write(buf[:n]); err != nil {
				rerr = err
				return
			}
			total += int64(n)
		}
	})
	return total, errors.Join(err, rerr)
}

// receiveLimit receives size bytes over loopback into a new file at path
// with blocking reads, sent from memory with the load generator's buffer.
func receiveLimit(ctx context.Context, path string, size int64) (float64, error) {
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
		n, err := blockingReceive(c.(*net.TCPConn), f)
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
