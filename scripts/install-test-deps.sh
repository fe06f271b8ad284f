#!/usr/bin/env bash
# Installs the real FTP peers the test suite talks to (clients, servers, firewall tools),
# from Debian's packages, only when one is missing. Run as root (CI is root).
set -euo pipefail

# command -> Debian package that provides it
declare -A want=(
  [curl]=curl
  [lftp]=lftp
  [wget]=wget
  [tnftp]=tnftp
  [vsftpd]=vsftpd
  [nft]=nftables
  [iptables-restore]=iptables
  [ufw]=ufw
  [systemd-analyze]=systemd
  [ip]=iproute2
  [openssl]=openssl
  [python3]=python3
)

missing=()
for cmd in "${!want[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then
    missing+=("${want[$cmd]}")
  fi
done

# ProFTPD and Pure-FTPd conflict with vsftpd as Debian packages (all three
# provide ftp-server), so they are unpacked beside it instead of installed.
# Their shared libraries are installed as ordinary packages.
PEERS=${FERRY_PEERS_DIR:-/opt/ferry-peers}
declare -A unpack=(
  [pure-ftpd]="pure-ftpd:usr/sbin/pure-ftpd:libsodium23 libcap2 libssl3"
  [proftpd]="proftpd-core:usr/sbin/proftpd:libhiredis0.14 libmemcached11 libmemcachedutil2 libpcre2-posix3 libacl1 libcap2 libssl3 libidn2-0"
)
need_unpack=()
for name in "${!unpack[@]}"; do
  IFS=: read -r pkg bin libs <<<"${unpack[$name]}"
  if [ ! -x "$PEERS/$name/$bin" ]; then
    need_unpack+=("$name")
    missing+=($libs)
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: every peer is present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing ${missing[*]} and not root; install them with apt-get" >&2
  exit 1
fi

echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Daemons must not start on install: the tests start their own on loopback.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

for name in "${need_unpack[@]}"; do
  IFS=: read -r pkg bin libs <<<"${unpack[$name]}"
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt downloads as the _apt user
  (cd "$tmp" && apt-get download -qq "$pkg" >/dev/null)
  rm -rf "${PEERS:?}/$name"
  mkdir -p "$PEERS/$name"
  dpkg -x "$tmp"/*.deb "$PEERS/$name"
  rm -rf "$tmp"
  echo "install-test-deps: unpacked $pkg into $PEERS/$name"
done
