//go:build !linux

package server

import "net"

// cork is Linux's TCP_CORK; elsewhere downloads go uncorked.
func cork(*net.TCPConn) {}
