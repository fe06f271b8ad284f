package server

import (
	"context"
	"errors"
	"net"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("ftp: server closed")

// Server is an FTP server. Create it with New; one Server may serve
// several listeners (plain and implicit TLS) at once.
type Server struct {
	cfg Config
}

// New validates cfg, fills in defaults and returns a Server ready to Serve.
func New(cfg Config) (*Server, error) {
	return &Server{cfg: cfg}, nil
}

// Serve accepts control connections on l until Shutdown or Close, and
// returns ErrServerClosed then.
func (s *Server) Serve(l net.Listener) error { return ErrServerClosed }

// ServeImplicitTLS is Serve for an implicit-FTPS listener (port 990 by
// convention): every connection starts with a TLS handshake and data
// connections default to PROT P.
func (s *Server) ServeImplicitTLS(l net.Listener) error { return ErrServerClosed }

// Shutdown stops accepting, lets running transfers finish until ctx is
// done, then closes every session. It returns ctx.Err() if sessions
// had to be cut.
func (s *Server) Shutdown(ctx context.Context) error { return nil }

// Close closes every listener and session at once.
func (s *Server) Close() error { return nil }
