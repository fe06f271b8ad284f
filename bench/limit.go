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
		par := filepath.Join(b.env.root, sizedName("par", b.opts.parSize))
		out["sendfile-parallel"], err = sendfileLimit(ctx, par, b.opts.parallel, b.opts.parSize, nil)
		// The same streams copied through user space, as Pure-FTPd
		// does: on loopback the reader shares the machine, and it pays
		// more per byte for sendfile's page-sized fragments than for a
		// write's larger ones. Printed beside the table, not a limit.
		if err == nil {
			out["copy-parallel"], err = streamLimit(ctx, par, b.opts.parallel, b.opts.parSize,
				func(c net.Conn, f *os.File) { blockingCopy(c.(*net.TCPConn), f) }, nil)
		}
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
	if serverTLS == nil {
		return streamLimit(ctx, path, streams, size, func(c net.Conn, f *os.File) {
			blockingSendfile(c.(*net.TCPConn), f, size)
		}, nil)
	}
	return streamLimit(ctx, path, streams, size, func(c net.Conn, f *os.File) {
		tc := tls.Server(c, serverTLS)
		io.Copy(tc, f)
		tc.Close()
	}, func(c net.Conn) net.Conn {
		return tls.Client(c, &tls.Config{InsecureSkipVerify: true}) // our own listener, just opened
	})
}

// streamLimit serves path with send to streams readers at once over
// loopback and returns the aggregate rate. wrap, if not nil, wraps each
// reader's connection (TLS).
func streamLimit(ctx context.Context, path string, streams int, size int64, send func(net.Conn, *os.File), wrap func(net.Conn) net.Conn) (float64, error) {
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
				send(c, f)
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
		if wrap != nil {
			c = wrap(c)
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

// onBlockingSocket runs fn on c's descriptor switched to blocking mode,
// on a thread of its own, as a C server's process would: no user-space
// scheduler sits between the calls.
func onBlockingSocket(c *net.TCPConn, fn func(fd int) error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = raw.Control(func(fd uintptr) {
		if ferr = syscall.SetNonblock(int(fd), false); ferr == nil {
			ferr = fn(int(fd))
		}
	})
	return errors.Join(err, ferr)
}

// blockingSendfile sends size bytes of f on c with sendfile(2).
func blockingSendfile(c *net.TCPConn, f *os.File, size int64) error {
	return onBlockingSocket(c, func(fd int) error {
		var off int64
		for off < size {
			n, err := syscall.Sendfile(fd, int(f.Fd()), &off, int(min(size-off, 1<<30)))
			if err == syscall.EINTR {
				continue
			}
			if err != nil || n == 0 {
				return err
			}
		}
		return nil
	})
}

// blockingCopy sends f on c by reading 128 KiB blocks and writing them:
// Pure-FTPd's way.
func blockingCopy(c *net.TCPConn, f *os.File) error {
	buf := make([]byte, 128<<10)
	return onBlockingSocket(c, func(fd int) error {
		for {
			n, err := f.Read(buf)
			for b := buf[:n]; len(b) > 0; {
				k, werr := syscall.Write(fd, b)
				if werr == syscall.EINTR {
					continue
				}
				if werr != nil {
					return werr
				}
				b = b[k:]
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
}

// blockingReceive reads c to the end with a 1 MiB buffer and writes what
// it reads to f.
func blockingReceive(c *net.TCPConn, f *os.File) (int64, error) {
	var total int64
	buf := make([]byte, 1<<20)
	err := onBlockingSocket(c, func(fd int) error {
		for {
			n, err := syscall.Read(fd, buf)
			if err == syscall.EINTR {
				continue
			}
			if err != nil || n == 0 {
				return err
			}
			if _, err := f.Write(buf[:n]); err != nil {
				return err
			}
			total += int64(n)
		}
	})
	return total, err
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
