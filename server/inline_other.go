//go:build !linux

package server

import (
	"net"
	"net/netip"
	"os"
)

// Outside Linux every download takes the transfer goroutine.

func (p *passiveListener) acceptPending(netip.Addr, bool) *net.TCPConn { return nil }

func sendfileNow(*net.TCPConn, *os.File, int64) int64 { return 0 }
