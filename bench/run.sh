#!/usr/bin/env bash
# Installs what the benchmark needs and runs it: bench/run.sh [bench flags]
#   bench/run.sh                          the full comparison (about an hour)
#   bench/run.sh -runs 1 -size 64MiB      a quick look
# Needs root: the peers are started as root and drop to the bench user.
set -euo pipefail
cd "$(dirname "$0")/.."

# vsftpd as a package; Pure-FTPd and ProFTPD unpacked under /opt/ferry-peers.
bash scripts/install-test-deps.sh

# ProFTPD's TLS module is in a package of its own; unpack it beside the
# server so that ProFTPD takes part in the TLS workload too.
PEERS=${FERRY_PEERS_DIR:-/opt/ferry-peers}
if [ ! -e "$PEERS/proftpd/usr/lib/proftpd/mod_tls.so" ]; then
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt downloads as the _apt user
  (cd "$tmp" && apt-get download -qq proftpd-mod-crypto >/dev/null)
  dpkg -x "$tmp"/*.deb "$PEERS/proftpd"
  rm -rf "$tmp"
  echo "bench: unpacked proftpd-mod-crypto into $PEERS/proftpd"
fi

exec go run ./bench "$@"
