package server

// This file hands internals to the package's external tests (package
// server_test, which drive a real server through internal/ftptest), as
// net/http's export_test.go does. It is compiled only with the tests.
// Keep it small: a read-only view of a counter or a state a test waits
// for, or a test knob the Server already has; anything a test could learn
// through the protocol does not belong here.

import (
	"net/netip"
	"slices"
	"time"
)

const (
	MaxQueued = maxQueued // commands queued behind a transfer before the session is cut
	FastMax   = fastMax   // the largest download that may finish in the session goroutine
)

// PortsHeld returns how many passive ports s's sessions hold.
func PortsHeld(s *Server) int { return s.ports.held() }

// PassiveExpired returns how many passive listeners s closed unused.
func PassiveExpired(s *Server) int64 { return s.passiveExpired.Load() }

// FastDone returns how many downloads finished in the session goroutine.
func FastDone(s *Server) int64 { return s.fastDone.Load() }

// ShutdownRounds returns how many rounds over the sessions Shutdown has
// made, each closing those waiting for a command.
func ShutdownRounds(s *Server) int64 { return s.shutdownRounds.Load() }

// Sessions returns how many sessions s holds.
func Sessions(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// CommandTokens returns the tokens left in the command limiter of each
// of s's sessions that has one (Config.CommandRate); below zero, a
// command waits in the limiter.
func CommandTokens(s *Server) []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var tokens []float64
	for sess := range s.sessions {
		if sess.cmdLimit != nil {
			tokens = append(tokens, sess.cmdLimit.Tokens())
		}
	}
	return tokens
}

// SetHashKeepAlive sets the interval of a long digest's keep-alive lines.
// Call it before the first session starts.
func SetHashKeepAlive(s *Server, d time.Duration) { s.hashKeepAlive = d }

// FailLogin counts a failed login as user from ip in s's login guard, as
// if it had come over the network.
func FailLogin(s *Server, ip netip.Addr, user string) { s.guard.failed(ip, user, 0) }

// UserLocked reports whether s's login guard locks user out.
func UserLocked(s *Server, user string) bool { return s.guard.userBanned(user) }

// GuardCounts returns how many address bans and account lockouts s's
// login guard has made.
func GuardCounts(s *Server) (bans, lockouts int64) {
	return s.guard.bans.Load(), s.guard.lockouts.Load()
}

// Verbs returns every verb of the command table, sorted.
func Verbs() []string {
	var v []string
	for k := range commands {
		v = append(v, k)
	}
	slices.Sort(v)
	return v
}
