#!/usr/bin/env bash
# The whole test suite: installs the real FTP peers the tests talk to
# (Debian packages, when missing), then vets and runs every test with the
# race detector. In CI (CI=true) a missing tool fails its tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

echo "== go vet"
go vet ./...

echo "== unformatted files"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed: $unformatted" >&2
  exit 1
fi

echo "== go test -race"
# -p 2: the machine has two cores; the interop tests start real servers
# and clients and are sensitive to starvation, not to order.
go test -race -p 2 -timeout 30m -count=1 ./...

echo "== micro-benchmarks, once each, so they cannot rot"
go test -run '^$' -bench . -benchtime=1x ./ftp ./server ./storage/local

echo "== fuzzers, ${FERRY_FUZZ_SECONDS:-20}s each"
./scripts/fuzz.sh "${FERRY_FUZZ_SECONDS:-20}"
