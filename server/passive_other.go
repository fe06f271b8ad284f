//go:build !linux

package server

import (
	"errors"
	"net"
	"net/netip"
	"os"
)

// Outside Linux passive listeners are Go listeners from the start, and
// every download takes the transfer goroutine (no bare accept).

func listenBare(netip.Addr, uint16) (int, error) { return -1, errors.ErrUnsupported }

func closeBare(int) error { return nil }

type pendingConn struct{}

func (p *passiveListener) acceptPending(netip.Addr, bool) (pendingConn, bool) {
	return pendingConn{}, false
}

func (pendingConn) sendfile(*os.File, int64) int64 { return 0 }
func (pendingConn) close() error                   { return nil }
func (pendingConn) netConn() (net.Conn, error)     { return nil, errors.New("no fast-path transfers here") }
