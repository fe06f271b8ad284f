package netlab_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/ferry-ftp/ferry/client"
	"github.com/ferry-ftp/ferry/ftp"
)

// The test binary doubles as the program that runs inside the lab's
// namespaces: with helperEnv set, TestMain hands os.Args to runHelper
// instead of running tests. A process, unlike a goroutine, stays in the
// namespace it was started in.
const helperEnv = "FERRY_NETLAB_HELPER"

// result is what a helper prints, as one JSON object, for the test to
// assert on.
type result struct {
	Bytes      int64    `json:",omitempty"`
	SHA256     string   `json:",omitempty"`
	Command    string   `json:",omitempty"` // the data-connection command used last
	Advertised string   `json:",omitempty"` // what the server's reply named
	Addr       string   `json:",omitempty"` // where the data connection went
	Fallback   string   `json:",omitempty"`
	Notes      []string `json:",omitempty"` // the client's own decisions, from its debug hook
	Err        string   `json:",omitempty"`
	Timeout    bool     `json:",omitempty"` // probe: the connection attempt timed out (dropped)
	Connected  bool     `json:",omitempty"` // probe: the TCP connection opened
	Port       uint16   `json:",omitempty"` // theft: the passive port the server named
}

func runHelper(args []string) int {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "helper: no command")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res result
	var err error
	switch args[0] {
	case "get":
		err = helperGet(ctx, args[1:], &res)
	case "probe":
		err = helperProbe(ctx, args[1:], &res)
	case "listen":
		err = helperListen(ctx, args[1:])
	case "theft":
		err = helperTheft(ctx, args[1:], &res)
	default:
		err = fmt.Errorf("unknown command %q", args[0])
	}
	if err != nil {
		res.Err = err.Error()
	}
	if args[0] != "listen" {
		json.NewEncoder(os.Stdout).Encode(res)
	}
	return 0
}

var modes = map[string]client.Mode{
	"passive": client.ModePassive, "active": client.ModeActive, "auto": client.ModeAuto,
	"epsv": client.ModeEPSV, "pasv": client.ModePASV, "eprt": client.ModeEPRT, "port": client.ModePORT,
}

// helperGet downloads a file with ferry's client library and reports how
// the data connection was made.
func helperGet(ctx context.Context, args []string, res *result) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	addr := fs.String("addr", "", "server host:port")
	path := fs.String("path", "data.bin", "file to download")
	mode := fs.String("mode", "passive", "data-connection mode")
	trust := fs.Bool("trust-pasv", false, "connect where a 227 reply says (a strict client)")
	ca := fs.String("ca", "", "CA certificate (PEM): use AUTH TLS and PROT P")
	timeout := fs.Duration("timeout", 10*time.Second, "per-operation timeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, ok := modes[*mode]
	if !ok {
		return fmt.Errorf("unknown mode %q", *mode)
	}
	opts := []client.Option{
		client.WithMode(m),
		client.WithTrustPASVAddress(*trust),
		client.WithTimeout(*timeout),
		client.WithDebug(func(d client.Direction, line string) {
			if d == client.Note {
				res.Notes = append(res.Notes, line)
			}
		}),
	}
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return errors.New("no certificate in " + *ca)
		}
		opts = append(opts, client.WithTLS(&tls.Config{RootCAs: pool}))
	}
	c, err := client.Dial(ctx, *addr, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(ctx, "anonymous", "netlab@example.com"); err != nil {
		return err
	}
	h := sha256.New()
	n, err := c.Retrieve(ctx, *path, 0, h)
	last := c.LastData()
	res.Bytes, res.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	res.Command, res.Advertised, res.Addr, res.Fallback = last.Command, last.Advertised, last.Addr, last.Fallback
	if err != nil {
		return err
	}
	return c.Quit(ctx)
}

// helperProbe opens a TCP connection and reads until the peer closes it:
// it tells a dropped connection (timeout) from a refused or closed one.
func helperProbe(ctx context.Context, args []string, res *result) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	addr := fs.String("addr", "", "host:port")
	timeout := fs.Duration("timeout", 3*time.Second, "connect and read timeout")
	announce := fs.Bool("announce", false, "print a result line as soon as the connection is open")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d := net.Dialer{Timeout: *timeout}
	conn, err := d.DialContext(ctx, "tcp", *addr)
	if err != nil {
		var ne net.Error
		res.Timeout = errors.As(err, &ne) && ne.Timeout()
		return err
	}
	defer conn.Close()
	res.Connected = true
	if *announce {
		json.NewEncoder(os.Stdout).Encode(result{Connected: true})
	}
	conn.SetReadDeadline(time.Now().Add(*timeout))
	n, err := io.Copy(io.Discard, conn)
	res.Bytes = n
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		res.Timeout = true
		return err
	}
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		return err
	}
	return nil
}

// helperListen accepts connections on addr and greets each with a line,
// until it is stopped; it prints "listening" once ready.
func helperListen(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	addr := fs.String("addr", "", "host:port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println("listening")
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		io.WriteString(c, "hello\n")
		c.Close()
	}
}

// helperTheft is the victim of a port theft, speaking the protocol by
// hand so that the test can act between PASV and the data connection:
// it logs in, sends PASV, prints the port as a JSON line, and waits for
// a line on standard input before it connects and retrieves the file.
func helperTheft(ctx context.Context, args []string, res *result) error {
	fs := flag.NewFlagSet("theft", flag.ContinueOnError)
	addr := fs.String("addr", "", "server host:port")
	path := fs.String("path", "data.bin", "file to download")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(time.Minute))
	tc := textproto.NewConn(nc)
	step := func(expect int, format string, args ...any) (string, error) {
		if format != "" {
			if err := tc.PrintfLine(format, args...); err != nil {
				return "", err
			}
		}
		_, msg, err := tc.ReadResponse(expect)
		return msg, err
	}
	if _, err := step(220, ""); err != nil {
		return err
	}
	if _, err := step(3, "USER anonymous"); err != nil {
		return err
	}
	if _, err := step(230, "PASS netlab@example.com"); err != nil {
		return err
	}
	if _, err := step(200, "TYPE I"); err != nil {
		return err
	}
	msg, err := step(227, "PASV")
	if err != nil {
		return err
	}
	ap, err := ftp.ParsePASVReply(msg)
	if err != nil {
		return err
	}
	res.Port, res.Advertised = ap.Port(), ap.String()
	json.NewEncoder(os.Stdout).Encode(result{Port: ap.Port()})
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the go-ahead: %w", err)
	}
	data, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(ap.Addr(), ap.Port()).String())
	if err != nil {
		return err
	}
	defer data.Close()
	data.SetDeadline(time.Now().Add(time.Minute))
	if _, err := step(1, "RETR %s", *path); err != nil {
		return err
	}
	h := sha256.New()
	res.Bytes, err = io.Copy(h, data)
	res.SHA256 = hex.EncodeToString(h.Sum(nil))
	if err != nil {
		return err
	}
	_, err = step(226, "")
	return err
}
