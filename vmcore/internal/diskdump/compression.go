package diskdump

import (
	"encoding/binary"
	"strings"
)

// Budget for Compression's descriptor scan: every descriptor when they
// fit in scanAll bytes, else scanChunks evenly spaced chunks.
const (
	scanAll    = 8 << 20
	scanChunk  = 64 << 10
	scanChunks = 128
)

// Compression names how the pages are stored: "zlib", "lzo", "snappy",
// "zstd" or "none", joined with "+" when pages mix (makedumpfile stores a
// page raw when compressing does not shrink it, so "zlib+none" is usual).
// It combines the header's status flags with the flags of the page
// descriptors: all of them for dumps up to ~350k pages, an even sample of
// chunks beyond that. The scan runs once, on the first call.
func (f *File) Compression() string {
	f.compOnce.Do(func() { f.comp = f.scanCompression() })
	return f.comp
}

func (f *File) scanCompression() string {
	seen := map[method]bool{}
	var order []method
	add := func(m method) {
		if !seen[m] {
			seen[m] = true
			order = append(order, m)
		}
	}
	// The header says what the writer was asked for; list it first.
	for _, bit := range []uint32{StatusCompressedZlib, StatusCompressedLZO, StatusCompressedSnappy, StatusCompressedZstd} {
		if f.hdr.Status&bit != 0 {
			add(methodOf(bit))
		}
	}
	seenDesc := map[method]bool{}
	scan := func(first, count uint64) {
		buf := make([]byte, count*descSize)
		n, _ := f.r.ReadAt(buf, f.descBase+int64(first*descSize))
		for i := 0; i+descSize <= n; i += descSize {
			if binary.LittleEndian.Uint64(buf[i:]) == 0 {
				continue // never written (incomplete dump)
			}
			m := methodOf(binary.LittleEndian.Uint32(buf[i+12:]))
			seenDesc[m] = true
		}
	}
	// Only descriptors inside the file are looked at.
	total := f.descCount
	if avail := uint64(max(f.size-f.descBase, 0)) / descSize; total > avail {
		total = avail
	}
	const perChunk = scanChunk / descSize
	if total*descSize <= scanAll {
		for first := uint64(0); first < total; first += perChunk {
			scan(first, min(perChunk, total-first))
		}
	} else {
		step := total / scanChunks
		for i := uint64(0); i < scanChunks; i++ {
			first := i * step
			scan(first, min(perChunk, total-first))
		}
	}
	// Header methods first, then others in a fixed order, "none" last.
	for _, m := range []method{methodZlib, methodLZO, methodSnappy, methodZstd, methodNone} {
		if seenDesc[m] {
			add(m)
		}
	}
	if len(order) == 0 {
		return string(methodNone)
	}
	names := make([]string, len(order))
	for i, m := range order {
		names[i] = string(m)
	}
	return strings.Join(names, "+")
}
