//go:build !linux

package server

import (
	"errors"
	"net/netip"
)

// Outside Linux passive listeners are Go listeners from the start.

func listenBare(netip.Addr, uint16) (int, error) { return -1, errors.ErrUnsupported }

func closeBare(int) error { return nil }
