// Package lzo decodes LZO1X streams, the per-page compression makedumpfile
// writes into kdump-compressed dumps ("-l": liblzo2's lzo1x_1_compress).
//
// The format is the one read by the Linux kernel's
// lib/lzo/lzo1x_decompress_safe.c (described in
// Documentation/staging/lzo.rst), including the kernel's "bitstream version 1"
// zero-run extension (lzo-rle). Input is treated as hostile: every read and
// write is bounds-checked and length continuations are capped.
package lzo

import (
	"errors"
	"fmt"
)

// Errors returned by Decompress, wrapped with the input and output offsets.
// They mirror liblzo2's LZO_E_* codes so failures can be compared with it.
var (
	// ErrInputOverrun: the stream ended before its end marker.
	ErrInputOverrun = errors.New("lzo: input overrun")
	// ErrOutputOverrun: the decoded data does not fit in dst.
	ErrOutputOverrun = errors.New("lzo: output overrun")
	// ErrLookbehindOverrun: a match refers to data before the start of dst.
	ErrLookbehindOverrun = errors.New("lzo: lookbehind overrun")
	// ErrCorrupt: a malformed end marker or bytes after it.
	ErrCorrupt = errors.New("lzo: corrupt input")
)

const (
	m1FarBase  = 0x0800 // a 3-byte M1 after a literal run reaches 2049..3072 back (M2_MAX_OFFSET)
	m4Base     = 0x4000 // M4 distances start above 16 KiB; distance 0x4000 itself is the end marker
	minZeroRun = 4      // MIN_ZERO_RUN_LENGTH: shortest zero run a version-1 stream encodes
	endOfLen   = 3      // the end marker 0x11 0x00 0x00 decodes as an M4 of length 3
)

// Decompress decodes LZO1X data from src into dst and returns the number of
// bytes written. It never writes past len(dst) and never reads past len(src).
// Malformed or truncated input, or output that would not fit, gives an error
// wrapping one of the Err* sentinels; n is then the number of bytes written
// before the error, and dst[:n] is a correct prefix of the output.
func Decompress(dst, src []byte) (n int, err error) {
	ip, op := 0, 0
	// The shortest stream is the bare end marker.
	if len(src) < 3 {
		return fail(ErrInputOverrun, ip, op)
	}

	// Kernel lzo-rle streams start with 17 and a version byte. No classic
	// stream of 5 or more bytes starts with 17: that byte would be an M4 at
	// output offset 0, which is either a lookbehind error or an end marker
	// followed by trailing bytes. So this check cannot misread liblzo2 output.
	rle := false
	if len(src) >= 5 && src[0] == 17 {
		rle = src[1] != 0
		ip = 2
	}

	// state is what the previous instruction left behind: 0 (a match with no
	// trailing literals), 1..3 trailing literals, or 4 (a literal run). It
	// decides what instructions 0..15 mean.
	state := 0

	// First byte 18..255: a literal run, optimised for the start of a stream
	// where no dictionary exists yet. 18..20 copy 1..3 literals (state 1..3).
	if t := int(src[ip]); t > 17 {
		ip++
		t -= 17
		if t > len(src)-ip {
			return fail(ErrInputOverrun, ip, op)
		}
		if t > len(dst) {
			return fail(ErrOutputOverrun, ip, op)
		}
		copy(dst[:t], src[ip:ip+t])
		ip += t
		op = t
		state = min(t, 4)
	}

	for {
		if ip >= len(src) {
			return fail(ErrInputOverrun, ip, op)
		}
		t := int(src[ip])
		ip++

		var dist, length, next int
		switch {
		case t >= 64:
			// M2: 0 1 L D D D S S (length 3..4) or 1 L L D D D S S
			// (length 5..8), then H: distance (H<<3)+D+1 <= 2 KiB.
			if ip >= len(src) {
				return fail(ErrInputOverrun, ip, op)
			}
			dist = 1 + (t>>2)&7 + int(src[ip])<<3
			ip++
			length = t>>5 + 1
			next = t & 3

		case t >= 32:
			// M3: 0 0 1 L L L L L [length continuation], then LE16
			// D<<2|S: distance D+1 <= 16 KiB.
			length = t & 31
			if length == 0 {
				if length, ip, err = extend(src, ip, 31, len(dst)-op); err != nil {
					return fail(err, ip, op)
				}
			}
			length += 2
			if len(src)-ip < 2 {
				return fail(ErrInputOverrun, ip, op)
			}
			v := int(src[ip]) | int(src[ip+1])<<8
			ip += 2
			dist = 1 + v>>2
			next = v & 3

		case t >= 16:
			// M4: 0 0 0 1 H L L L [length continuation], then LE16
			// D<<2|S: distance 16384+(H<<14)+D; distance 16384 ends the
			// stream.
			if len(src)-ip < 2 {
				return fail(ErrInputOverrun, ip, op)
			}
			v := int(src[ip]) | int(src[ip+1])<<8
			if rle && t&0xf8 == 0x18 && v&0xfffc == 0xfffc {
				// Version 1 zero run: 0 0 0 1 1 L L L, 0xfc|S, 0xff, X
				// writes ((X<<3)|L)+4 zero bytes. The kernel compressor
				// avoids the M4 matches this would shadow.
				if len(src)-ip < 3 {
					return fail(ErrInputOverrun, ip, op)
				}
				run := (t&7 | int(src[ip+2])<<3) + minZeroRun
				if run > len(dst)-op {
					return fail(ErrOutputOverrun, ip, op)
				}
				clear(dst[op : op+run])
				op += run
				ip += 3
				next = v & 3
				break // length stays 0: nothing to copy from the dictionary
			}
			length = t & 7
			if length == 0 {
				if length, ip, err = extend(src, ip, 7, len(dst)-op); err != nil {
					return fail(err, ip, op)
				}
				if len(src)-ip < 2 {
					return fail(ErrInputOverrun, ip, op)
				}
				v = int(src[ip]) | int(src[ip+1])<<8
			}
			length += 2
			ip += 2
			dist = (t&8)<<11 + v>>2
			next = v & 3
			if dist == 0 {
				// Like the kernel, only the 3-byte marker 0x11 0x00 0x00 is
				// an end, and it must be the last thing in the input (makedumpfile
				// stores exact sizes; liblzo2 calls the rest INPUT_NOT_CONSUMED).
				if length != endOfLen {
					return fail(ErrCorrupt, ip, op)
				}
				if ip != len(src) {
					return fail(fmt.Errorf("%w: %d bytes after the end marker", ErrCorrupt, len(src)-ip), ip, op)
				}
				return op, nil
			}
			dist += m4Base

		default:
			if state == 0 {
				// Literal run: 0 0 0 0 L L L L [length continuation]
				// copies L+3 (4..18, or more with L=0) literals.
				length = t
				if length == 0 {
					if length, ip, err = extend(src, ip, 15, len(dst)-op); err != nil {
						return fail(err, ip, op)
					}
				}
				length += 3
				if length > len(dst)-op {
					return fail(ErrOutputOverrun, ip, op)
				}
				if length > len(src)-ip {
					return fail(ErrInputOverrun, ip, op)
				}
				copy(dst[op:op+length], src[ip:ip+length])
				ip += length
				op += length
				state = 4
				continue
			}
			// M1: 0 0 0 0 D D S S, then H. After 1..3 trailing literals it
			// copies 2 bytes from (H<<2)+D+1 back; after a literal run, 3
			// bytes from (H<<2)+D+2049 back.
			if ip >= len(src) {
				return fail(ErrInputOverrun, ip, op)
			}
			dist = 1 + t>>2 + int(src[ip])<<2
			ip++
			next = t & 3
			length = 2
			if state == 4 {
				dist += m1FarBase
				length = 3
			}
		}

		if length > 0 {
			if dist > op {
				return fail(ErrLookbehindOverrun, ip, op)
			}
			if length > len(dst)-op {
				return fail(ErrOutputOverrun, ip, op)
			}
			copyMatch(dst, op, dist, length)
			op += length
		}

		// Every match carries 0..3 literals in its S bits; they follow it.
		state = next
		if next > 0 {
			if next > len(src)-ip {
				return fail(ErrInputOverrun, ip, op)
			}
			if next > len(dst)-op {
				return fail(ErrOutputOverrun, ip, op)
			}
			copy(dst[op:op+next], src[ip:ip+next])
			ip += next
			op += next
		}
	}
}

// fail wraps a sentinel with the offsets where decoding stopped. It is a
// plain function, not a closure, so ip and op can stay in registers.
func fail(err error, ip, op int) (int, error) {
	return op, fmt.Errorf("%w at input offset %d, output offset %d", err, ip, op)
}

// extend reads a length continuation: each 0 byte adds 255 and the first
// nonzero byte ends it, giving base + 255*zeros + that byte. Since a run
// longer than limit (the room left in dst) must fail anyway, it stops there:
// hostile input cannot make it scan far or overflow.
func extend(src []byte, ip, base, limit int) (n, next int, err error) {
	start := ip
	for {
		if ip >= len(src) {
			return 0, ip, ErrInputOverrun
		}
		if src[ip] != 0 {
			break
		}
		ip++
		if (ip-start)*255 > limit {
			return 0, ip, ErrOutputOverrun
		}
	}
	return base + (ip-start)*255 + int(src[ip]), ip + 1, nil
}

// copyMatch appends length bytes copied from dist bytes back. When the
// source overlaps the destination (dist < length) the result repeats the last
// dist bytes; copying from a fixed start doubles the copied span each round.
func copyMatch(dst []byte, op, dist, length int) {
	src := op - dist
	end := op + length
	if dist >= length {
		copy(dst[op:end], dst[src:src+length])
		return
	}
	for op < end {
		op += copy(dst[op:end], dst[src:op])
	}
}
