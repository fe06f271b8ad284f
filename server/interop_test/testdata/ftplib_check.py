#!/usr/bin/env python3
"""Exercise a ferry server through Python's ftplib and check every answer.

Usage: ftplib_check.py HOST PORT USER PASSWORD ROOT SUITE

ROOT is the directory the server serves, read directly to check what an
upload stored. SUITE is "plain" (every RFC 959 command ftplib can send,
passive and active), "epsvall" or "tls" (FTP_TLS with PROT P). Each check
prints "ok NAME" or "FAIL NAME: why"; the exit status is 1 if any failed.
The last line is a JSON summary.
"""

import ftplib
import hashlib
import io
import json
import os
import socket
import ssl
import sys
import traceback

HOST, PORT, USER, PASSWORD, ROOT, SUITE = sys.argv[1:7]
PORT = int(PORT)
TIMEOUT = 20

results = {}


def check(fn):
    """Run fn as one named check and record the outcome."""
    name = fn.__name__
    try:
        fn()
    except Exception as e:  # any failure, assertion or protocol error
        results[name] = "FAIL"
        print("FAIL %s: %r" % (name, e), flush=True)
        traceback.print_exc(file=sys.stdout)
    else:
        results[name] = "ok"
        print("ok " + name, flush=True)
    return fn


def eq(got, want, what):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def refused(codes, what, fn, *args):
    """Call fn(*args) and require a 5xx refusal with one of codes."""
    try:
        fn(*args)
    except ftplib.error_perm as e:
        if str(e)[:3] not in codes:
            raise AssertionError("%s: got %r, want %s" % (what, str(e), "/".join(codes)))
    else:
        raise AssertionError(what + " was accepted")


def sha(b):
    return hashlib.sha256(b).hexdigest()


def disk(name):
    with open(os.path.join(ROOT, name), "rb") as f:
        return f.read()


def put_disk(name, data):
    with open(os.path.join(ROOT, name), "wb") as f:
        f.write(data)


def retr(f, cmd, rest=None):
    buf = bytearray()
    f.retrbinary(cmd, buf.extend, rest=rest)
    return bytes(buf)


def login(cls=ftplib.FTP, **kw):
    f = cls(timeout=TIMEOUT, **kw)
    welcome = f.connect(HOST, PORT)
    eq(welcome[:4], "220 ", "welcome")
    return f


def suite_plain():
    f = login()
    eq(f.login(USER, PASSWORD)[:4], "230 ", "login")
    payload = os.urandom(1 << 20)

    @check
    def pwd_cwd_mkd_rmd():
        eq(f.pwd(), "/", "pwd")
        eq(f.mkd("d"), "/d", "mkd")
        eq(f.cwd("d")[:4], "250 ", "cwd")
        eq(f.pwd(), "/d", "pwd after cwd")
        eq(f.sendcmd("CDUP")[:4], "250 ", "cdup")
        eq(f.pwd(), "/", "pwd after cdup")
        eq(f.rmd("d")[:4], "250 ", "rmd")
        assert not os.path.exists(os.path.join(ROOT, "d")), "rmd left the directory"
        refused(["550"], "cwd to a missing directory", f.cwd, "no-such-dir")
        # RFC 959 appendix II: quotes in a 257 path are doubled; ftplib
        # undoes that. Leading and trailing spaces belong to the name.
        for name in ('say "hi"', " both ends "):
            eq(f.mkd(name), "/" + name, "mkd of %r" % name)
            assert os.path.isdir(os.path.join(ROOT, name)), name
            eq(f.cwd(name)[:4], "250 ", "cwd into %r" % name)
            eq(f.pwd(), "/" + name, "pwd in %r" % name)
            f.cwd("/")
            eq(f.rmd(name)[:4], "250 ", "rmd of %r" % name)

    @check
    def stor_retr_binary():
        eq(f.storbinary("STOR bin.dat", io.BytesIO(payload))[:4], "226 ", "stor")
        eq(sha(disk("bin.dat")), sha(payload), "stored bytes")
        eq(sha(retr(f, "RETR bin.dat")), sha(payload), "retrieved bytes")

    @check
    def listings():
        names = f.nlst()
        assert "bin.dat" in names, names
        lines = []
        f.dir(lines.append)
        assert any(l.startswith("-") and l.endswith(" bin.dat") and (" %d " % len(payload)) in l for l in lines), lines
        facts = dict(f.mlsd())
        eq(facts["bin.dat"]["type"], "file", "mlsd type")
        eq(int(facts["bin.dat"]["size"]), len(payload), "mlsd size")
        assert "modify" in facts["bin.dat"], facts["bin.dat"]

    @check
    def size_mdtm():
        # RFC 3659 4: SIZE is what RETR would send in the current TYPE.
        import re
        f.voidcmd("TYPE A")
        eq(f.size("bin.dat"), len(re.sub(rb"(?<!\r)\n", b"\r\n", payload)), "size in ASCII mode")
        f.voidcmd("TYPE I")
        eq(f.size("bin.dat"), len(payload), "size")
        resp = f.sendcmd("MDTM bin.dat")
        eq(resp[:4], "213 ", "mdtm code")
        import time
        want = time.strftime("%Y%m%d%H%M%S", time.gmtime(int(os.stat(os.path.join(ROOT, "bin.dat")).st_mtime)))
        eq(resp[4:18], want, "mdtm time")

    @check
    def rest_retr():
        eq(sha(retr(f, "RETR bin.dat", rest=1000)), sha(payload[1000:]), "retr from 1000")
        eq(retr(f, "RETR bin.dat", rest=len(payload)), b"", "retr from the end")

    @check
    def appe():
        a, b = os.urandom(70000), os.urandom(33333)
        f.storbinary("APPE app.dat", io.BytesIO(a))
        f.storbinary("APPE app.dat", io.BytesIO(b))
        eq(sha(disk("app.dat")), sha(a + b), "appended file")

    @check
    def rest_stor():
        data = os.urandom(50000)
        put_disk("part.dat", data[:20000])
        f.storbinary("STOR part.dat", io.BytesIO(data[20000:]), rest=20000)
        eq(sha(disk("part.dat")), sha(data), "resumed upload")

    @check
    def stou():
        data = os.urandom(4096)
        f.voidcmd("TYPE I")
        conn, _ = f.ntransfercmd("STOU")
        conn.sendall(data)
        conn.close()
        eq(f.voidresp()[:4], "226 ", "stou end")
        new = [n for n in f.nlst() if n.startswith("ferry.")]
        eq(len(new), 1, "files made by STOU")
        eq(disk(new[0]), data, "STOU file")

    @check
    def rename_delete():
        f.rename("bin.dat", "renamed.dat")
        assert not os.path.exists(os.path.join(ROOT, "bin.dat")), "rename left the source"
        eq(sha(disk("renamed.dat")), sha(payload), "renamed file")
        eq(f.delete("renamed.dat")[:4], "250 ", "dele")
        assert not os.path.exists(os.path.join(ROOT, "renamed.dat")), "dele left the file"
        refused(["503"], "RNTO without RNFR", f.sendcmd, "RNTO nowhere")

    @check
    def type_a_download():
        put_disk("lf.txt", b"one\ntwo\n\nthree\n")
        lines = []
        f.retrlines("RETR lf.txt", lines.append)
        eq(lines, ["one", "two", "", "three"], "retrlines")
        # The raw bytes on the wire: LF becomes CRLF in TYPE A.
        f.voidcmd("TYPE A")
        conn = f.transfercmd("RETR lf.txt")
        raw = b""
        while True:
            b = conn.recv(8192)
            if not b:
                break
            raw += b
        conn.close()
        f.voidresp()
        eq(raw, b"one\r\ntwo\r\n\r\nthree\r\n", "TYPE A bytes on the wire")
        f.voidcmd("TYPE I")
        eq(retr(f, "RETR lf.txt"), b"one\ntwo\n\nthree\n", "TYPE I bytes")

    @check
    def type_a_upload():
        f.storlines("STOR lines.txt", io.BytesIO(b"x\ny\n\nz\n"))
        eq(disk("lines.txt"), b"x\ny\n\nz\n", "storlines stores LF endings")
        f.voidcmd("TYPE A")
        conn = f.transfercmd("STOR raw.txt")
        conn.sendall(b"p\r\nq\r\n")
        conn.close()
        f.voidresp()
        f.voidcmd("TYPE I")
        eq(disk("raw.txt"), b"p\nq\n", "TYPE A upload with CRLF")

    @check
    def feat_opts_help_syst_stat_noop():
        feat = f.sendcmd("FEAT")
        eq(feat[:4], "211-", "feat")
        lines = [l.strip() for l in feat.splitlines()[1:-1]]
        for want in ("UTF8", "EPSV", "EPRT", "SIZE", "MDTM", "REST STREAM"):
            assert want in lines, (want, lines)
        assert any(l.startswith("MLST ") for l in lines), lines
        eq(f.sendcmd("OPTS UTF8 ON")[:4], "200 ", "opts utf8")
        help_ = f.sendcmd("HELP")
        eq(help_[:4], "214-", "help")
        for verb in ("RETR", "STOR", "EPSV", "MLSD"):
            assert verb in help_, (verb, help_)
        eq(f.sendcmd("HELP RETR")[:3], "214", "help retr")
        eq(f.sendcmd("SYST"), "215 UNIX Type: L8", "syst")
        stat = f.sendcmd("STAT")
        eq(stat[:4], "211-", "stat")
        assert USER in stat, stat
        stat = f.sendcmd("STAT /")
        eq(stat[:4], "213-", "stat path")
        assert "lf.txt" in stat, stat
        eq(f.sendcmd("NOOP")[:4], "200 ", "noop")
        refused(["500"], "unknown command", f.sendcmd, "XYZZY")

    @check
    def rfc959_parameters_and_aliases():
        eq(f.sendcmd("ALLO 1000")[:3], "200", "ALLO, checked against the free space")
        eq(f.sendcmd("ACCT x")[:3], "202", "ACCT after login")
        eq(f.sendcmd("STRU F")[:3], "200", "STRU F")
        refused(["504"], "STRU R", f.sendcmd, "STRU R")
        eq(f.sendcmd("MODE S")[:3], "200", "MODE S")
        refused(["504"], "MODE B", f.sendcmd, "MODE B")
        eq(f.sendcmd("TYPE L 8")[:3], "200", "TYPE L 8")
        refused(["504"], "TYPE E", f.sendcmd, "TYPE E")
        refused(["501", "504"], "TYPE X", f.sendcmd, "TYPE X")
        eq(f.sendcmd("TYPE I")[:3], "200", "TYPE I")
        refused(["501"], "RETR without a name", f.sendcmd, "RETR")
        eq(f.sendcmd("XMKD x")[:3], "257", "XMKD")
        eq(f.sendcmd("XCWD x")[:3], "250", "XCWD")
        eq(ftplib.parse257(f.sendcmd("XPWD")), "/x", "XPWD")
        eq(f.sendcmd("XCUP")[:3], "250", "XCUP")
        eq(f.sendcmd("XRMD x")[:3], "250", "XRMD")
        refused(["550"], "RMD of a missing directory", f.sendcmd, "RMD x")
        refused(["550"], "RETR of a directory", retr, f, "RETR /")

    @check
    def rfc3659_and_site():
        put_disk("meta.txt", b"0123456789")
        mlst = f.sendcmd("MLST meta.txt")
        eq(mlst[:4], "250-", "MLST")
        facts = mlst.splitlines()[1].strip()
        assert "type=file;" in facts and "size=10;" in facts and facts.endswith((" meta.txt", " /meta.txt")), facts  # RFC 3659 7.3: as given, or absolute
        eq(f.sendcmd("MFMT 20200102030405 meta.txt")[:3], "213", "MFMT")
        eq(f.sendcmd("MDTM meta.txt"), "213 20200102030405", "MDTM after MFMT")
        eq(int(os.stat(os.path.join(ROOT, "meta.txt")).st_mtime), 1577934245, "mtime on disk")
        eq(f.sendcmd("SITE CHMOD 600 meta.txt")[:3], "200", "SITE CHMOD")
        eq(os.stat(os.path.join(ROOT, "meta.txt")).st_mode & 0o777, 0o600, "mode on disk")
        eq(f.sendcmd("SITE HELP")[:3], "214", "SITE HELP")
        h = f.sendcmd("HASH meta.txt")
        eq(h[:4], "213 ", "HASH")
        assert hashlib.sha256(b"0123456789").hexdigest() in h.lower(), h
        eq(f.sendcmd("RANG 2 5")[:3], "350", "RANG")
        assert hashlib.sha256(b"2345").hexdigest() in f.sendcmd("HASH meta.txt").lower(), "HASH of a range"

    @check
    def rein_logs_out():
        eq(f.sendcmd("REIN")[:3], "220", "REIN")
        refused(["530"], "PWD after REIN", f.sendcmd, "PWD")
        eq(f.login(USER, PASSWORD)[:3], "230", "login after REIN")
        eq(f.pwd(), "/", "pwd after REIN")

    @check
    def abor_during_retr():
        size = 256 << 20
        with open(os.path.join(ROOT, "huge.bin"), "wb") as h:
            h.truncate(size)  # sparse: costs no disk
        f.voidcmd("TYPE I")
        conn = f.transfercmd("RETR huge.bin")
        got = conn.recv(65536)
        assert got, "no data before ABOR"
        # STAT and NOOP are answered while the transfer runs (RFC 959
        # 4.1.3: STAT during a transfer reports on it).
        stat = f.sendcmd("STAT")
        assert stat[:3] in ("211", "212", "213"), stat
        assert "in progress" in stat, stat
        eq(f.sendcmd("NOOP")[:4], "200 ", "noop during a transfer")
        resp = f.abort()  # Telnet IP, DM as urgent data, ABOR
        if resp[:3] == "426":
            # RFC 959: 426 for the aborted transfer, then 226 for ABOR.
            eq(f.getresp()[:3], "226", "reply to ABOR after 426")
        else:
            assert resp[:3] in ("225", "226"), resp
        conn.close()
        eq(f.sendcmd("NOOP")[:4], "200 ", "noop after abor")
        eq(sha(retr(f, "RETR app.dat")), sha(disk("app.dat")), "transfer after abor")
        os.remove(os.path.join(ROOT, "huge.bin"))

    @check
    def abor_behind_queued_pwd():
        # A command pipelined behind a stalled transfer, then ftplib's
        # abort(): the ABOR acts at once, and the replies come in the
        # order of the commands: 426 for the transfer, 257 for PWD, then
        # 226 for ABOR.
        size = 256 << 20
        with open(os.path.join(ROOT, "huge.bin"), "wb") as h:
            h.truncate(size)
        f.voidcmd("TYPE I")
        conn = f.transfercmd("RETR huge.bin")
        got = len(conn.recv(65536))
        assert got, "no data before ABOR"
        f.sock.sendall(b"PWD\r\n")  # the client stalls from here on
        eq(f.abort()[:3], "426", "first reply after ABOR: the transfer's")
        eq(f.getresp()[:3], "257", "the queued PWD's reply")
        eq(f.getresp()[:3], "226", "ABOR's own reply")
        conn.settimeout(10)
        while True:
            b = conn.recv(1 << 20)
            if not b:
                break
            got += len(b)
        conn.close()
        assert got < size // 2, "client got %d of %d bytes: ABOR waited" % (got, size)
        eq(f.sendcmd("NOOP")[:4], "200 ", "noop after the queued abort")
        os.remove(os.path.join(ROOT, "huge.bin"))

    @check
    def active_mode():
        f.set_pasv(False)
        try:
            data = os.urandom(300000)
            f.storbinary("STOR active.dat", io.BytesIO(data))
            eq(sha(disk("active.dat")), sha(data), "active upload")
            eq(sha(retr(f, "RETR active.dat")), sha(data), "active download")
            assert "active.dat" in f.nlst(), "active nlst"
        finally:
            f.set_pasv(True)

    @check
    def quit_():
        eq(f.quit()[:4], "221 ", "quit")

    @check
    def anonymous_read_only():
        a = login()
        eq(a.login()[:4], "230 ", "anonymous login")
        eq(retr(a, "RETR app.dat"), disk("app.dat"), "anonymous download")
        for cmd in ("MKD anon", "DELE app.dat", "RNFR app.dat"):
            refused(["550"], "anonymous " + cmd, a.sendcmd, cmd)
        refused(["550"], "anonymous STOR", a.storbinary, "STOR anon.dat", io.BytesIO(b"x"))
        assert not os.path.exists(os.path.join(ROOT, "anon.dat")), "anonymous STOR stored"
        a.quit()

    @check
    def bad_login():
        b = login()
        refused(["530"], "bad password", b.login, USER, "wrong")
        b.close()


def suite_epsvall():
    f = login()
    f.login(USER, PASSWORD)
    put_disk("e.txt", b"epsv all\n")

    @check
    def epsv_all():
        eq(f.sendcmd("EPSV ALL")[:4], "200 ", "EPSV ALL")
        for cmd in ("PASV", "PORT 127,0,0,1,4,1", "EPRT |1|127.0.0.1|1025|"):
            refused(["501", "503", "522"], cmd + " after EPSV ALL", f.sendcmd, cmd)
        port = ftplib.parse229(f.sendcmd("EPSV"), (HOST, PORT))[1]
        conn = socket.create_connection((HOST, port), timeout=TIMEOUT)
        f.sendcmd("TYPE I")
        eq(f.sendcmd("RETR e.txt")[:3], "150", "RETR after EPSV")
        data = b""
        while True:
            b = conn.recv(8192)
            if not b:
                break
            data += b
        conn.close()
        eq(f.voidresp()[:3], "226", "end of RETR")
        eq(data, b"epsv all\n", "EPSV ALL transfer")
        f.quit()


def suite_tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    f = login(ftplib.FTP_TLS, context=ctx)
    eq(f.auth()[:4], "234 ", "AUTH TLS")
    eq(f.login(USER, PASSWORD)[:4], "230 ", "login over TLS")
    data = os.urandom(1 << 20)

    @check
    def prot_p_transfers():
        eq(f.prot_p()[:4], "200 ", "PROT P")
        f.storbinary("STOR tls.dat", io.BytesIO(data))
        eq(sha(disk("tls.dat")), sha(data), "protected upload")
        eq(sha(retr(f, "RETR tls.dat")), sha(data), "protected download")
        assert "tls.dat" in f.nlst(), "protected nlst"

    @check
    def prot_p_active():
        f.set_pasv(False)
        try:
            f.storbinary("STOR tls-active.dat", io.BytesIO(data[:300000]))
            eq(sha(disk("tls-active.dat")), sha(data[:300000]), "protected active upload")
            eq(sha(retr(f, "RETR tls.dat")), sha(data), "protected active download")
        finally:
            f.set_pasv(True)

    @check
    def prot_c_transfers():
        eq(f.prot_c()[:4], "200 ", "PROT C")
        eq(sha(retr(f, "RETR tls.dat")), sha(data), "clear download on a TLS session")

    @check
    def quit_tls():
        eq(f.quit()[:4], "221 ", "quit")


{"plain": suite_plain, "epsvall": suite_epsvall, "tls": suite_tls}[SUITE]()
print(json.dumps(results, sort_keys=True))
sys.exit(0 if results and all(v == "ok" for v in results.values()) else 1)
