package lzo

import (
	"bytes"
	"math/rand/v2"
)

// A test-only greedy LZO1X encoder. It exists because no compressor is
// available to produce test streams; it aims at emitting every instruction
// form the decoder must read (see Documentation/staging/lzo.rst), not at ratio.

// form names one instruction encoding, for coverage accounting.
type form int

const (
	fFirstLit    form = iota // first byte 18..255
	fLitRun                  // 0000LLLL after state 0
	fLitRunExt               // 00000000 + length continuation
	fTrailingLit             // 1..3 literals in a match's S bits
	fM1Near                  // 2-byte M1 after 1..3 literals
	fM1Far                   // 3-byte M1 after a literal run
	fM2
	fM3
	fM3Ext
	fM4
	fM4Ext
	fM4High // M4 with H=1 (distance >= 32 KiB)
	fZeroRun
	numForms
)

var formNames = [numForms]string{"first-literal", "literal-run", "literal-run-ext", "trailing-literals",
	"M1-near", "M1-far", "M2", "M3", "M3-ext", "M4", "M4-ext", "M4-high", "zero-run"}

type encOpts struct {
	rle bool       // write a version-1 stream (header 17,1) with zero runs
	rng *rand.Rand // when set, pick randomly among valid encodings and split matches
}

type encoder struct {
	out   []byte
	start int // len(out) before the first instruction
	state int // decoder state before the next instruction: 0, 1..3, or 4
	sPos  int // index of the byte holding the last match's S bits, or -1
	opts  encOpts
	used  [numForms]int
}

// chance is true with probability 1/k when randomising, never otherwise, so
// an encoder without rng makes liblzo2-like choices.
func (e *encoder) chance(k int) bool {
	return e.opts.rng != nil && e.opts.rng.IntN(k) == 0
}

// ext writes a length continuation for rest >= 1.
func (e *encoder) ext(rest int) {
	for rest > 255 {
		e.out = append(e.out, 0)
		rest -= 255
	}
	e.out = append(e.out, byte(rest))
}

// literals writes lit; callers merge adjacent literals, so it always follows
// the stream start or a match.
func (e *encoder) literals(lit []byte) {
	n := len(lit)
	switch {
	case n == 0:
		return
	case len(e.out) == e.start && n <= 238 && (n < 4 || !e.chance(4)):
		e.out = append(e.out, byte(17+n))
		e.used[fFirstLit]++
		e.state = min(n, 4)
	case n <= 3:
		if e.sPos < 0 || e.state != 0 {
			panic("encoder: short literal run without a preceding match")
		}
		e.out[e.sPos] |= byte(n)
		e.used[fTrailingLit]++
		e.state = n
	case n <= 18:
		e.out = append(e.out, byte(n-3))
		e.used[fLitRun]++
		e.state = 4
	default:
		e.out = append(e.out, 0)
		e.ext(n - 18)
		e.used[fLitRunExt]++
		e.state = 4
	}
	e.out = append(e.out, lit...)
}

// match writes a copy of length bytes from dist back, in one or more
// instructions.
func (e *encoder) match(dist, length int) {
	for length > 0 {
		n := length
		switch {
		case e.state >= 1 && e.state <= 3 && n == 2 && dist <= 1024:
			d := dist - 1
			e.sPos = len(e.out)
			e.out = append(e.out, byte(d&3)<<2, byte(d>>2))
			e.used[fM1Near]++
		case e.state == 4 && dist > 2048 && dist <= 3072 && (n == 3 || n >= 6):
			d := dist - 2049
			n = 3
			e.sPos = len(e.out)
			e.out = append(e.out, byte(d&3)<<2, byte(d>>2))
			e.used[fM1Far]++
		default:
			if n < 3 {
				panic("encoder: match too short")
			}
			if n >= 6 && e.chance(3) {
				n = 3 + e.opts.rng.IntN(n-5) // split: both parts stay >= 3
			}
			e.long(dist, n)
		}
		e.state = 0
		length -= n
	}
}

// long writes one M2, M3 or M4 of length >= 3.
func (e *encoder) long(dist, n int) {
	canM2 := n <= 8 && dist <= 2048
	canM3 := dist <= 16384
	switch {
	case canM2 && (!canM3 || !e.chance(3)):
		d := dist - 1
		e.sPos = len(e.out)
		e.out = append(e.out, byte(n-1)<<5|byte(d&7)<<2, byte(d>>3))
		e.used[fM2]++
	case canM3:
		d := dist - 1
		if n-2 <= 31 {
			e.out = append(e.out, 32|byte(n-2))
			e.used[fM3]++
		} else {
			e.out = append(e.out, 32)
			e.ext(n - 2 - 31)
			e.used[fM3Ext]++
		}
		e.sPos = len(e.out)
		e.out = append(e.out, byte(d<<2), byte(d>>6))
	default:
		d := dist - 16384
		h := byte(d>>14) << 3
		d &= 0x3fff
		if h != 0 {
			e.used[fM4High]++
		}
		if n-2 <= 7 {
			e.out = append(e.out, 16|h|byte(n-2))
			e.used[fM4]++
		} else {
			e.out = append(e.out, 16|h)
			e.ext(n - 2 - 7)
			e.used[fM4Ext]++
		}
		e.sPos = len(e.out)
		e.out = append(e.out, byte(d<<2), byte(d>>6))
	}
}

// zeroRun writes a version-1 run of 4..2051 zero bytes.
func (e *encoder) zeroRun(n int) {
	n -= minZeroRun
	e.out = append(e.out, 0x18|byte(n&7))
	e.sPos = len(e.out)
	e.out = append(e.out, 0xfc, 0xff, byte(n>>3))
	e.used[fZeroRun]++
	e.state = 0
}

const (
	encHashBits = 15
	maxZeroRun  = minZeroRun + 7 + 255<<3
)

func hash3(b []byte) uint32 {
	return (uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16) * 2654435761 >> (32 - encHashBits)
}

// compress encodes in as an LZO1X stream ending with the end marker.
func compress(in []byte, opts encOpts) []byte {
	out, _ := compressForms(in, opts)
	return out
}

// compressForms also reports how often each instruction form was used.
func compressForms(in []byte, opts encOpts) ([]byte, [numForms]int) {
	e := &encoder{sPos: -1, opts: opts}
	maxDist := 0xbfff
	if opts.rle {
		e.out = append(e.out, 17, 1)
		// Version 1 reads some H=1 M4 matches as zero runs; stay below them.
		maxDist = 0x7fff
	}
	e.start = len(e.out)

	var head3 [1 << encHashBits]int32
	var head2 [1 << 16]int32
	for i := range head3 {
		head3[i] = -1
	}
	for i := range head2 {
		head2[i] = -1
	}
	lit := 0 // start of pending literals
	i := 0
	for i+3 <= len(in) {
		// A zero run cannot open the stream: its first byte (0x18..0x1f)
		// would read as a first-byte literal run. The kernel compressor
		// likewise always starts with literals.
		if opts.rle && in[i] == 0 && (len(e.out) > e.start || i > lit) {
			z := i
			for z < len(in) && in[z] == 0 && z-i < maxZeroRun {
				z++
			}
			if z-i >= minZeroRun {
				e.literals(in[lit:i])
				e.zeroRun(z - i)
				i, lit = z, z
				continue
			}
		}
		h := hash3(in[i:])
		cand := int(head3[h])
		head3[h] = int32(i)
		h2 := uint32(in[i]) | uint32(in[i+1])<<8
		cand2 := int(head2[h2])
		head2[h2] = int32(i)
		if cand >= 0 && i-cand <= maxDist && bytes.Equal(in[cand:cand+3], in[i:i+3]) {
			n := 3
			for i+n < len(in) && in[cand+n] == in[i+n] {
				n++
			}
			e.literals(in[lit:i])
			e.match(i-cand, n)
			i += n
			lit = i
			continue
		}
		// A 2-byte M1 is only expressible right after 1..3 literals.
		if p := i - lit; p >= 1 && p <= 3 && cand2 >= 0 && i-cand2 <= 1024 && (e.sPos >= 0 || len(e.out) == e.start) {
			e.literals(in[lit:i])
			e.match(i-cand2, 2)
			i += 2
			lit = i
			continue
		}
		i++
	}
	e.literals(in[lit:])
	e.out = append(e.out, 0x11, 0, 0)
	return e.out, e.used
}
