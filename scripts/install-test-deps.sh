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
  [proftpd]=proftpd-core
  [nft]=nftables
  [iptables-restore]=iptables
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
