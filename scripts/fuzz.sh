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
for t in "${targets[@]}"; do
  read -r dir name <<<"$t"
  echo "== fuzz $dir $name (${secs}s)"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "${secs}s" "$dir"
done
echo "fuzz: ${#targets[@]} targets ran clean"
