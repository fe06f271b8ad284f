package server

import (
	"os"
	"time"

	"github.com/ferry-ftp/ferry/ftp"
	"github.com/ferry-ftp/ferry/storage"
)

// inlineMax is the largest download tried inline: small enough that a
// fresh connection's send buffer takes it in one go on any network.
const inlineMax = 64 << 10

// Small downloads are tried inline, in the session goroutine, before a
// transfer goroutine is started. When the client's passive connection is
// already waiting and the kernel takes the whole file in one non-blocking
// sendfile, the transfer is done without the goroutine, its wake-ups and
// the extra thread hand-offs, which are a third of the server's work for
// a 4 KiB file. Anything that would wait (no connection yet, a full send
// buffer, an error to report) goes to the transfer goroutine as before,
// so the session is never kept from reading ABOR.

// tryInlineRETR sends f (size bytes, 150 text opening) over d if that can
// be done without waiting. done says the transfer is over and answered;
// otherwise, if a data connection was accepted and announced, it is in
// d.ready with sent bytes already moved, for the transfer goroutine to
// finish.
func (s *session) tryInlineRETR(d *dataSetup, f storage.File, size int64, rec xferRecord, opening string) (sent int64, done bool) {
	file, ok := f.(*os.File)
	if !ok || d.pasv == nil || s.protP || !s.binary || size > inlineMax || s.rateLimited(false) {
		return 0, false
	}
	s.watchStrangers(*d)
	pc, ok := d.pasv.acceptPending(s.remote.Addr(), s.srv.cfg.PassiveAnyPeer)
	if !ok {
		return 0, false
	}
	start := time.Now()
	_ = s.reply(ftp.CodeFileStatusOK, opening)
	n := pc.sendfile(file, size)
	if n < size {
		c, err := pc.netConn()
		if err != nil { // pc is closed
			_ = s.reply(ftp.CodeTransferAborted, "Connection closed; transfer aborted.")
			s.logTransfer(rec, n, start, dataErr{err})
			return n, true
		}
		d.ready = c
		return n, false
	}
	if err := pc.close(); err != nil {
		_ = s.reply(ftp.CodeTransferAborted, "Connection closed; transfer aborted.")
		s.logTransfer(rec, n, start, dataErr{err})
		return n, true
	}
	s.srv.inlineDone.Add(1)
	_ = s.reply(ftp.CodeTransferComplete, "Transfer complete.")
	s.logTransfer(rec, n, start, nil)
	return n, true
}
