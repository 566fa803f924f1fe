#!/usr/bin/env bash
# Runs every fuzz target of the module for a short time each (default 10s,
# FUZZTIME=30s to change), with minimisation capped so that a short run
# fuzzes instead of minimising. Real-dump targets skip without ../shared.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
status=0
for file in $(git ls-files '*_test.go'); do
  pkg=./$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    echo "== $pkg $target"
    if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime=5s; then
      status=1
    fi
  done
done
exit $status
