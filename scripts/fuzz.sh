#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a bounded time each.
#   scripts/fuzz.sh [SECONDS]     (default 20; the test command uses 20,
#                                  a longer hunt might use 600)
# New failing inputs are written under the package's testdata/fuzz/ by
# `go test` itself: commit them with the fix, as regression seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}

# package directory and target name for each "func FuzzX(" in a test file
mapfile -t targets < <(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' . |
  while read -r file; do
    dir=$(dirname "$file")
    grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed "s|^func |$dir |"
  done | sort)

if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no targets found" >&2
  exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
flakes=0
for t in "${targets[@]}"; do
  read -r dir name <<<"$t"
  echo "== fuzz $dir $name (${secs}s)"
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "${secs}s" "$dir" 2>&1 | tee "$log"; then
    continue
  fi
  # Go 1.26's fuzz coordinator can fail a target with a bare "context
  # deadline exceeded" when -fuzztime expires while a worker is mid-call
  # (golang/go#75804, fixed in Go 1.27). A real finding always writes its
  # input under testdata/fuzz and says so; only then is this a failure.
  if grep -q 'context deadline exceeded' "$log" && ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"; then
    echo "fuzz: $name stopped at the -fuzztime boundary with no finding (golang/go#75804); not a failure"
    flakes=$((flakes + 1))
    continue
  fi
  echo "fuzz: $name found a failing input" >&2
  exit 1
done
echo "fuzz: ${#targets[@]} targets ran clean ($flakes stopped early at the deadline with no finding)"
echo "fuzz: ${#targets[@]} passed, 0 failed"
