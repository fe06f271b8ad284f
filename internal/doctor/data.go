package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferry-ftp/ferry/client"
	"github.com/ferry-ftp/ferry/ftp"
)

// mode lists the directory in a fresh session that may use only mode m,
// and explains a failure. Each mode gets its own session so that a
// broken attempt (a timed-out accept leaves the control connection out
// of step) cannot spoil the next one.
func (r *run) mode(ctx context.Context, m client.Mode) {
	name := m.String()
	res := &DataResult{Mode: name}
	if !r.peer.Is4() && (m == client.ModePASV || m == client.ModePORT) {
		r.add(Check{Name: name, OK: true, Skipped: true, Data: res,
			Detail: name + " carries only IPv4 addresses; on an IPv6 connection EPSV and EPRT replace it"})
		return
	}
	var sentMode bool
	var notes []string
	hook := func(d client.Direction, line string) {
		switch d {
		case client.Sent:
			sentMode = line == "---> "+name || strings.HasPrefix(line, "---> "+name+" ")
		case client.Received:
			if sentMode && res.Reply == "" {
				res.Reply = line
			}
		case client.Note:
			notes = append(notes, line)
		}
	}
	// A generous bound on the whole attempt; each step has DataTimeout.
	mctx, cancel := context.WithTimeout(ctx, 8*r.opts.DataTimeout)
	defer cancel()
	opts := append(r.dialOptions(name, r.opts.DataTimeout, r.sessionTLS(), hook), client.WithMode(m))
	conn, err := client.Dial(mctx, r.addr(), opts...)
	if err != nil {
		r.add(Check{Name: name, Data: res,
			Detail: "opening a session for the test: " + err.Error(),
			Cause:  "the control connection that worked a moment ago failed now: the server may limit sessions per address, or the connection is unstable"})
		return
	}
	defer conn.Close()
	if err := conn.Login(mctx, r.opts.User, r.opts.Password); err != nil {
		r.add(Check{Name: name, Data: res,
			Detail: "logging in for the test: " + err.Error(),
			Cause:  "the login that worked a moment ago failed now: the server may limit sessions per user"})
		return
	}
	start := time.Now()
	entries, lerr := conn.List(mctx, r.opts.Dir)
	elapsed := time.Since(start)
	last := conn.LastData()
	conn.Quit(mctx)

	res.Advertised, res.Addr = last.Advertised, last.Addr
	res.Opened = last.Command != "" && last.Err == nil && last.Addr != ""
	res.Entries = len(entries)
	c := Check{Name: name, Data: res, Duration: last.Duration}
	if c.Duration == 0 {
		c.Duration = elapsed
	}
	if passive(m) {
		r.diagnosePassive(&c, last, lerr)
	} else {
		r.diagnoseActive(&c, last, lerr, notes)
	}
	r.add(c)
}

func passive(m client.Mode) bool { return m == client.ModeEPSV || m == client.ModePASV }

// replyText is the mode command's reply for messages, or its absence.
func replyText(res *DataResult) string {
	if res.Reply == "" {
		return "no reply to " + res.Mode
	}
	return strconv.Quote(res.Reply)
}

func (r *run) diagnosePassive(c *Check, last client.DataInfo, lerr error) {
	res := c.Data
	target := res.Addr
	if target == "" {
		target = res.Advertised
	}
	// The PASV reply may name an address other than the one we are
	// connected to; the client connects to the control address instead
	// (it never follows the reply to a third host), so here we only say
	// what that means.
	var named netip.Addr
	if res.Mode == "PASV" && res.Advertised != "" {
		if ap, err := netip.ParseAddrPort(res.Advertised); err == nil && ap.Addr().Unmap() != r.peer {
			named = ap.Addr().Unmap()
		}
	}
	switch {
	case lerr == nil:
		c.OK = true
		c.Detail = fmt.Sprintf("%s; connected to %s; listed %d entries", replyText(res), target, res.Entries)
		if named.IsValid() {
			c.Cause, c.Hint = pasvAddressCause(named, r.peer, true)
		}
		return
	case last.Command == "" || last.Err == nil && !res.Opened:
		// The listing failed before any mode command: the session broke.
		c.Detail = "listing: " + lerr.Error()
		c.Cause = "the session failed before the data connection was tried"
		return
	}
	if last.Err != nil && res.Advertised == "" {
		c.Detail = fmt.Sprintf("%s: %v", replyText(res), last.Err)
		c.Cause, c.Hint = modeRefusedCause(res.Mode, last.Err, "")
		return
	}
	if last.Err != nil && !res.Opened {
		c.Detail = fmt.Sprintf("%s; connecting to %s: %v", replyText(res), target, last.Err)
		if errors.Is(last.Err, ftp.ErrBadHostPort) {
			c.Cause = "the reply cannot be parsed: a middlebox (a firewall's FTP helper) may have rewritten it"
			c.Hint = "disable FTP inspection on firewalls between, or use TLS so that none can read the control connection"
			return
		}
		port := portOf(target)
		switch {
		case named.IsValid():
			c.Cause, c.Hint = pasvAddressCause(named, r.peer, false)
		case isRefused(last.Err):
			c.Cause = fmt.Sprintf("the server's reply was fine, but connecting to its passive port %d was refused: "+
				"the server's firewall rejects its passive port range, or a NAT in front of it does not forward that port (or forwards it to the wrong port)", port)
			c.Hint = "server: allow inbound to the passive port range from clients' ports > 1023 and forward exactly that range; or use active mode"
		case isTimeout(last.Err):
			c.Cause = fmt.Sprintf("the server's reply was fine, but connecting to its passive port %d timed out: "+
				"the server's firewall drops its passive port range (or this machine's firewall blocks outbound connections to high ports)", port)
			c.Hint = "server: allow inbound to the passive port range; client: allow outbound to it; or use active mode"
		default:
			c.Cause = "the passive data connection failed: " + last.Err.Error()
		}
		return
	}
	// The data connection opened; the transfer over it did not work.
	c.Detail = fmt.Sprintf("%s; connected to %s; listing failed: %v", replyText(res), target, lerr)
	c.Cause, c.Hint, c.OK = transferCause(lerr, r.opts.Dir)
	if named.IsValid() && c.OK {
		c.Cause, c.Hint = pasvAddressCause(named, r.peer, true)
	}
}

// pasvAddressCause explains a 227 reply naming another address than the
// control connection's peer.
func pasvAddressCause(named, peer netip.Addr, worked bool) (cause, hint string) {
	outcome := "connecting to the control address " + peer.String() + " instead worked"
	if !worked {
		outcome = "connecting to the control address " + peer.String() + " instead failed too"
	}
	if internal(named) && !internal(peer) || internal(named) && named != peer && !named.IsLoopback() {
		return fmt.Sprintf("the server is behind NAT and advertises its private address %s in PASV, not its public %s; "+
				"%s (the doctor never connects to the address a reply names). Clients that trust the PASV address fail", named, peer, outcome),
			"server: advertise the public address (ferry: passive.address; vsftpd: pasv_address; ProFTPD: MasqueradeAddress); clients: use EPSV, which names no address"
	}
	return fmt.Sprintf("PASV names %s, not the control address %s: a middlebox (a NAT or firewall FTP helper) rewrote the reply, "+
			"or the server advertises the wrong public address; %s", named, peer, outcome),
		"server: check the advertised passive address; disable FTP helpers (ALG) that rewrite replies; use EPSV"
}

// modeRefusedCause explains a negative reply to a mode command.
func modeRefusedCause(mode string, err error, announced string) (cause, hint string) {
	var rep *ftp.Reply
	if !errors.As(err, &rep) {
		if errors.Is(err, client.ErrConnection) || isTimeout(err) {
			return "no usable reply to " + mode + ": the control connection broke or stalled (a firewall FTP helper may hold the command)",
				"disable FTP inspection on firewalls between, or use TLS"
		}
		return mode + " failed here, before the server was involved: " + err.Error(), ""
	}
	active := mode == "EPRT" || mode == "PORT"
	switch {
	case rep.Positive():
		want := map[string]int{"EPSV": ftp.CodeExtendedPassive, "PASV": ftp.CodePassive}[mode]
		if want == 0 {
			want = ftp.CodeOK
		}
		return fmt.Sprintf("the reply to %s is %d, not the %d the RFCs prescribe (%s): a middlebox (a firewall's FTP helper) may have rewritten it, "+
				"or the server is broken", mode, rep.Code, want, rep.Msg),
			"disable FTP inspection on firewalls between, or use TLS so that none can read the control connection"
	case rep.Code == ftp.CodeCantOpenData:
		return fmt.Sprintf("the server could not prepare the data connection (%d %s): its passive port range may be exhausted or misconfigured", rep.Code, rep.Msg),
			"server: check the passive port range and its log"
	case rep.Code == ftp.CodeProtectionDenied || rep.Code == 521:
		return fmt.Sprintf("the server requires TLS for data connections (%d %s)", rep.Code, rep.Msg), "use ftps:// (or --tls)"
	case rep.Code == ftp.CodeNetworkProtocol:
		return fmt.Sprintf("the server does not support %s for this address family (%d %s)", mode, rep.Code, rep.Msg), ""
	case active && (rep.Code == ftp.CodeBadArguments || rep.Code == ftp.CodeNotImplParam ||
		rep.Code == ftp.CodeSyntaxError && strings.Contains(strings.ToLower(rep.Msg), "illegal")):
		return fmt.Sprintf("the server rejected the address this machine announced (%s) with %d %s: "+
				"it differs from this machine's address as the server sees it, so this machine is behind NAT, which active mode cannot cross", announced, rep.Code, rep.Msg),
			"use passive mode; or announce the NAT's public address and forward the active ports to this machine"
	case rep.Code == ftp.CodeSyntaxError || rep.Code == ftp.CodeNotImplemented:
		if active {
			return fmt.Sprintf("the server refuses %s (%d %s): it does not implement it or has active mode disabled", mode, rep.Code, rep.Msg),
				"use passive mode"
		}
		return fmt.Sprintf("the server refuses %s (%d %s): it does not implement it", mode, rep.Code, rep.Msg),
			"use the other passive command"
	case rep.Code == ftp.CodeBadSequence && strings.Contains(strings.ToUpper(rep.Msg), "EPSV ALL"):
		return "the server accepts only EPSV after EPSV ALL", ""
	}
	return fmt.Sprintf("the server refused %s: %d %s", mode, rep.Code, rep.Msg), ""
}

// transferCause explains a listing that failed after the data
// connection opened. ok is true when the failure is not the data
// connection's (a directory the server will not list).
func transferCause(err error, dir string) (cause, hint string, ok bool) {
	var rep *ftp.Reply
	if errors.As(err, &rep) {
		switch rep.Code {
		case ftp.CodeCantOpenData, ftp.CodeTransferAborted:
			return fmt.Sprintf("the data connection opened but the server did not take it (%d %s): a NAT between may give the data connection "+
					"another source address than the control connection (the server then drops it as a stranger's), "+
					"or the server's TLS rules for data connections refused it", rep.Code, rep.Msg),
				"check the server's log for the refused data connection", false
		case ftp.CodeProtectionDenied, 521:
			return fmt.Sprintf("the server requires TLS on data connections (%d %s)", rep.Code, rep.Msg),
				"use ftps:// (or --tls)", false
		case ftp.CodeFileActionDenied, ftp.CodeFileUnavailable, ftp.CodeNotLoggedIn:
			if dir == "" {
				dir = "the login directory"
			}
			return fmt.Sprintf("the data connection works, but the server refused to list %s (%d %s)", dir, rep.Code, rep.Msg),
				"list a directory you may read", true
		}
	}
	switch {
	case strings.Contains(err.Error(), "TLS handshake"):
		return "the data connection's TLS handshake failed: the server may require data connections to resume the control connection's TLS session, " +
				"or a middlebox interferes with TLS on the data ports",
			"check the server's TLS settings and log", false
	case isTimeout(err):
		return "the data connection opened but the listing stalled: a firewall FTP helper may hold the connection, or the server stalls",
			"disable FTP inspection on firewalls between", false
	}
	return "the listing failed after the data connection opened: " + err.Error(), "", false
}

func (r *run) diagnoseActive(c *Check, last client.DataInfo, lerr error, notes []string) {
	res := c.Data
	if lerr == nil {
		c.OK = true
		c.Detail = fmt.Sprintf("announced %s, %s; the server connected from %s; listed %d entries",
			res.Advertised, replyText(res), res.Addr, res.Entries)
		return
	}
	if last.Command == "" {
		c.Detail = "listing: " + lerr.Error()
		c.Cause = "the session failed before the data connection was tried"
		return
	}
	if last.Err != nil && (res.Reply == "" || errors.As(last.Err, new(*ftp.Reply))) {
		c.Detail = fmt.Sprintf("announced %s, %s: %v", res.Advertised, replyText(res), last.Err)
		c.Cause, c.Hint = modeRefusedCause(res.Mode, last.Err, res.Advertised)
		return
	}
	if last.Err == nil && !res.Opened {
		// The server answered the listing command without using the
		// data connection, so it was not tested.
		c.Detail = fmt.Sprintf("announced %s, %s; listing: %v", res.Advertised, replyText(res), lerr)
		cause, hint, _ := transferCause(lerr, r.opts.Dir)
		c.Cause, c.Hint = cause+" (the data connection was not tested)", hint
		return
	}
	if last.Err != nil && !res.Opened {
		c.Detail = fmt.Sprintf("announced %s, %s; %v", res.Advertised, replyText(res), last.Err)
		for _, n := range notes {
			if rest, ok := strings.CutPrefix(n, "refused data connection from "); ok {
				from, _, _ := strings.Cut(rest, " ")
				c.Cause = fmt.Sprintf("a connection came from %s, but not from the server's control address %s: the server's outgoing "+
					"connections leave through another address (a NAT or load balancer in front of it); the doctor refuses "+
					"data connections from other hosts, as anyone could have sent them", from, r.peer)
				c.Hint = "server: make active connections leave from the control address (SNAT); or use passive mode"
				return
			}
		}
		also := ""
		if r.passiveWorked() {
			also = "; passive mode worked, so the server and the path to it are fine"
		}
		c.Cause = fmt.Sprintf("the server's connection back to this machine (to %s) never arrived: a client-side firewall "+
			"or NAT blocks inbound connections, which is what active mode needs (or the server's firewall blocks its outbound connections)%s", res.Advertised, also)
		c.Hint = fmt.Sprintf("use passive mode; or client: allow inbound from %s port 20 (or any port) to local ports > 1023, forwarding them if behind NAT", r.peer)
		return
	}
	c.Detail = fmt.Sprintf("announced %s, %s; the server connected from %s; listing failed: %v", res.Advertised, replyText(res), res.Addr, lerr)
	c.Cause, c.Hint, c.OK = transferCause(lerr, r.opts.Dir)
}

// passiveWorked reports whether a passive mode check has passed.
func (r *run) passiveWorked() bool {
	for _, c := range r.report.Checks {
		if (c.Name == "EPSV" || c.Name == "PASV") && c.OK && !c.Skipped {
			return true
		}
	}
	return false
}

// crossCheck adds what only comparing modes reveals.
func (r *run) crossCheck() {
	epsv, pasv := r.report.Check("EPSV"), r.report.Check("PASV")
	if epsv == nil || pasv == nil || epsv.Skipped || pasv.Skipped {
		return
	}
	// A firewall's FTP helper that reads PASV replies opens their port;
	// one that does not understand EPSV leaves its port closed.
	if !epsv.OK && pasv.OK && epsv.Data.Advertised != "" && !epsv.Data.Opened {
		epsv.Cause += "; PASV's port was reachable, so a firewall FTP helper (ALG) that understands PASV but not EPSV may be opening ports only for PASV"
		epsv.Hint = "server: open the whole passive port range instead of relying on an FTP helper; meanwhile use PASV"
	}
	if epsv.OK && !pasv.OK && pasv.Data.Advertised != "" && !pasv.Data.Opened {
		pasv.Cause += "; EPSV's port was reachable, so the passive range is open: the address or port in the PASV reply is what is wrong"
	}
}

func portOf(hostport string) int {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return 0
	}
	return int(ap.Port())
}

// internal reports whether a cannot be reached from the internet
// (RFC 1918, loopback, link-local, RFC 6598 shared space).
func internal(a netip.Addr) bool {
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() || cgnat.Contains(a)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.As(err, &ne) && ne.Timeout()
}
