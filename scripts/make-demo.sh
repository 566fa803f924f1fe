#!/usr/bin/env bash
# Regenerates the dump `panicscope demo` opens (cmd/panicscope/demodata/) from the fixture
# qemu-6.1-lp-oops-pstore with `panicscope trim`, and checks it stays under 8 MiB
# (zlib pages; zstd when zlib does not fit).
set -euo pipefail
cd "$(dirname "$0")/.."
fixtures=${PANICSCOPE_VMCORES:-../shared/vmcores}
name=qemu-6.1-lp-oops-pstore
src="$fixtures/$name/vmcore"
out="cmd/panicscope/demodata/$name.vmcore"
max=$((8 << 20))

if [ ! -f "$src" ]; then
  echo "make-demo: $src not found (set PANICSCOPE_VMCORES to the vmcores folder)" >&2
  exit 1
fi
bin=$(mktemp -d)/panicscope
trap 'rm -rf "$(dirname "$bin")"' EXIT
CGO_ENABLED=0 go build -o "$bin" ./cmd/panicscope

"$bin" trim "$src" "$out"
if [ "$(stat -c %s "$out")" -gt "$max" ]; then
  echo "make-demo: over 8 MiB with zlib, trying zstd"
  "$bin" trim --zstd "$src" "$out"
fi
size=$(stat -c %s "$out")
if [ "$size" -gt "$max" ]; then
  echo "make-demo: $out is $size bytes, over the 8 MiB budget" >&2
  exit 1
fi
echo "make-demo: $out: $size bytes"
go test -count=1 -run 'TestDemo' ./cmd/panicscope
