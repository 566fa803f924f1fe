#!/bin/sh
# Rebuilds the test ELF files (GCC; DWARF 5 and DWARF 4, with a build ID).
set -e
cd "$(dirname "$0")"
for v in 4 5; do
	gcc -g -gdwarf-$v -O0 -shared -nostdlib -fno-eliminate-unused-debug-types \
		-Wl,--build-id=sha1 -o lab-dwarf$v.so lab.c
	strip --only-keep-debug lab-dwarf$v.so -o lab-dwarf$v.debug
	rm lab-dwarf$v.so
done
