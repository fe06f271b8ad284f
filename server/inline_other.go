//go:build !linux

package server

import (
	"errors"
	"net"
	"net/netip"
	"os"
)

// Outside Linux every download takes the transfer goroutine.

type pendingConn struct{}

func (p *passiveListener) acceptPending(netip.Addr, bool) (pendingConn, bool) {
	return pendingConn{}, false
}

func (pendingConn) sendfile(*os.File, int64) int64 { return 0 }
func (pendingConn) close() error                   { return nil }
func (pendingConn) netConn() (net.Conn, error)     { return nil, errors.New("no inline transfers here") }
