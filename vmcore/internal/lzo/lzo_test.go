package lzo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// Hand-made streams from the format description, each with its known output.
func TestVectors(t *testing.T) {
	seq := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i % 251)
		}
		return b
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	end := []byte{0x11, 0, 0}

	tests := []struct {
		name string
		src  []byte
		want []byte
	}{
		{"empty", end, nil},
		{"first-byte literals", cat([]byte{17 + 5}, []byte("hello"), end), []byte("hello")},
		{"first-byte 238 literals", cat([]byte{255}, seq(238), end), seq(238)},
		// 18 = one literal (state 1), then M1 near: distance 1, 2 bytes.
		{"M1 near", []byte{18, 'a', 0x00, 0x00, 0x11, 0, 0}, []byte("aaa")},
		// M1 near with S=2 trailing literals and H=0, D=1: distance 2.
		{"M1 near + literals", []byte{19, 'a', 'b', 0x06, 0x00, 'c', 'd', 0x11, 0, 0}, []byte("ababcd")},
		// M2 1 01 010 00: length 6, distance 3.
		{"M2", []byte{17 + 3, 'a', 'b', 'c', 0xa8, 0x00, 0x11, 0, 0}, []byte("abcabcabc")},
		// M2 0 1 0 111 01 + H=1: length 3, distance (1<<3)+7+1 = 16, one trailing literal.
		{"M2 far + literal", cat([]byte{17 + 16}, []byte("0123456789abcdef"), []byte{0x5d, 0x01, 'Z'}, end),
			[]byte("0123456789abcdef012Z")},
		// M3 with continuation: 32, 7 -> length 2+31+7 = 40; LE16 3<<2 -> distance 4.
		{"M3 ext", cat([]byte{17 + 4}, []byte("abcd"), []byte{0x20, 0x07, 0x0c, 0x00}, end),
			[]byte(strings.Repeat("abcd", 11))},
		// Literal-run instruction with continuation: 0, 0, 27 -> 3+15+255+27 = 300.
		{"literal run ext", cat([]byte{0, 0, 27}, seq(300), end), seq(300)},
		// Literal-run instruction without continuation: 5 -> 8 literals.
		{"literal run", cat([]byte{5}, seq(8), end), seq(8)},
		// M1 far after a literal run: D=3 -> distance 2052, 3 bytes.
		// 2052 literals = 0, 7 zeros (7*255), 249 (+18).
		{"M1 far", cat([]byte{0, 0, 0, 0, 0, 0, 0, 0, 249}, seq(2052), []byte{0x0c, 0x00}, end),
			cat(seq(2052), seq(3))},
		// 4 literals, an M3 that repeats 'z' 16384 times (continuation of
		// 64 zeros then 31), then M4 H=0 D=4: distance 16388, length 4.
		{"M4", cat([]byte{17 + 4}, []byte("wxyz"), []byte{0x20}, make([]byte, 64), []byte{31, 0, 0},
			[]byte{0x12, 0x10, 0x00}, end),
			cat([]byte("wxyz"), bytes.Repeat([]byte("z"), 16384), []byte("wxyz"))},
		// Version-1 stream: header 17,1; one literal; zero run 0x18 (L=0),
		// 0xfc, 0xff, X=12 -> (12<<3|0)+4 = 100 zeros.
		{"rle zero run", []byte{0x11, 0x01, 18, 'a', 0x18, 0xfc, 0xff, 12, 0x11, 0, 0},
			cat([]byte("a"), make([]byte, 100))},
		// Zero run with S=2 trailing literals and L=3: 3+4 = 7 zeros.
		{"rle zero run + literals", []byte{0x11, 0x01, 18, 'a', 0x1b, 0xfe, 0xff, 0, 'b', 'c', 0x11, 0, 0},
			cat([]byte("a"), make([]byte, 7), []byte("bc"))},
		// Version-1 header with no RLE instruction: an ordinary stream follows.
		{"rle header only", []byte{0x11, 0x01, 17 + 2, 'h', 'i', 0x11, 0, 0}, []byte("hi")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]byte, len(tc.want)+10)
			n, err := Decompress(dst, tc.src)
			if err != nil {
				t.Fatalf("Decompress: %v", err)
			}
			if !bytes.Equal(dst[:n], tc.want) {
				t.Fatalf("got %d bytes %q, want %d bytes %q", n, trunc(dst[:n]), len(tc.want), trunc(tc.want))
			}
			// Exactly-sized dst works; one byte less overruns.
			if n, err := Decompress(make([]byte, len(tc.want)), tc.src); err != nil || n != len(tc.want) {
				t.Fatalf("exact dst: n=%d err=%v", n, err)
			}
			if len(tc.want) > 0 {
				if _, err := Decompress(make([]byte, len(tc.want)-1), tc.src); !errors.Is(err, ErrOutputOverrun) {
					t.Fatalf("short dst: err=%v, want ErrOutputOverrun", err)
				}
			}
		})
	}
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// Malformed streams give the matching sentinel.
func TestErrors(t *testing.T) {
	zeros := func(n int) []byte { return make([]byte, n) }
	tests := []struct {
		name string
		src  []byte
		dst  int
		want error
	}{
		{"nil", nil, 16, ErrInputOverrun},
		{"two bytes", []byte{0x11, 0}, 16, ErrInputOverrun},
		{"no end marker", []byte{17 + 3, 'a', 'b', 'c'}, 16, ErrInputOverrun},
		{"literals past input", []byte{17 + 9, 'a', 'b', 'c'}, 16, ErrInputOverrun},
		{"first literals past output", []byte{17 + 3, 'a', 'b', 'c', 0x11, 0, 0}, 2, ErrOutputOverrun},
		// M1 near H=1: distance 5 with 1 byte written.
		{"lookbehind M1", []byte{18, 'a', 0x00, 0x01, 0x11, 0, 0}, 16, ErrLookbehindOverrun},
		{"lookbehind M2", []byte{17 + 3, 'a', 'b', 'c', 0xac, 0x00, 0x11, 0, 0}, 16, ErrLookbehindOverrun},
		{"lookbehind M3", []byte{17 + 3, 'a', 'b', 'c', 0x21, 0x0c, 0x00, 0x11, 0, 0}, 16, ErrLookbehindOverrun},
		{"lookbehind M4", []byte{17 + 3, 'a', 'b', 'c', 0x11, 0x04, 0x00, 0x11, 0, 0}, 1 << 16, ErrLookbehindOverrun},
		// Instruction 16 (M4, H=0, L=0) at the start: length continuation
		// then distance 0 with length != 3: a broken end marker.
		{"bad end marker length", []byte{17 + 1, 'a', 0x12, 0x00, 0x00}, 16, ErrCorrupt},
		{"bad end marker ext", []byte{0x10, 0x01, 0x00, 0x00}, 16, ErrCorrupt},
		{"bytes after end", []byte{17 + 1, 'a', 0x11, 0, 0, 0}, 16, ErrCorrupt},
		// Without the version header the zero-run bytes are an M4 that
		// reaches 32 KiB back.
		{"rle without header", []byte{18, 'a', 0x18, 0xfc, 0xff, 12, 0x11, 0, 0}, 1 << 16, ErrLookbehindOverrun},
		{"rle run past output", []byte{0x11, 0x01, 18, 'a', 0x18, 0xfc, 0xff, 12, 0x11, 0, 0}, 50, ErrOutputOverrun},
		{"rle truncated", []byte{0x11, 0x01, 18, 'a', 0x18, 0xfc, 0xff}, 200, ErrInputOverrun},
		// A long continuation of zeros stops once it cannot fit dst.
		{"literal continuation overflow", append([]byte{0}, zeros(1<<20)...), 4096, ErrOutputOverrun},
		{"M3 continuation overflow", append([]byte{17 + 1, 'a', 0x20}, zeros(1<<20)...), 4096, ErrOutputOverrun},
		{"M4 continuation overflow", append([]byte{17 + 1, 'a', 0x10}, zeros(1<<20)...), 4096, ErrOutputOverrun},
		{"continuation runs off input", append([]byte{0}, zeros(10)...), 1 << 20, ErrInputOverrun},
		{"M3 missing distance", []byte{17 + 1, 'a', 0x21, 0x00}, 16, ErrInputOverrun},
		{"M2 missing distance", []byte{17 + 1, 'a', 0x40}, 16, ErrInputOverrun},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]byte, tc.dst)
			n, err := Decompress(dst, tc.src)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if n > len(dst) {
				t.Fatalf("n = %d > len(dst) = %d", n, len(dst))
			}
		})
	}
}

// inputs returns named test data: random, repetitive and page-like.
func inputs(t testing.TB) map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	// periodic repeats a random block, mutating a few bytes per period so
	// matches end and restart.
	periodic := func(n, period int, mutate bool) []byte {
		b := random(period)
		for len(b) < n {
			b = append(b, b[len(b)-period])
			if mutate && rng.IntN(period+50) == 0 {
				b[len(b)-1] ^= 0x5a
			}
		}
		return b[:n]
	}
	m := map[string][]byte{}
	for _, n := range []int{0, 1, 2, 3, 4, 5, 6, 17, 18, 19, 238, 239, 240, 300, 1000, 4095, 4096, 4097, 65536} {
		m[fmt.Sprintf("random-%d", n)] = random(n)
		m[fmt.Sprintf("zeros-%d", n)] = make([]byte, n)
		m[fmt.Sprintf("text-%d", n)] = []byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", n/45+1)[:n])
	}
	for _, p := range []int{1, 2, 3, 7, 100, 1000, 2050, 2500, 3000, 9000, 17000, 20000, 33000, 40000} {
		m[fmt.Sprintf("periodic-%d", p)] = periodic(65536, p, false)
		m[fmt.Sprintf("mutated-%d", p)] = periodic(65536, p, true)
	}
	for i := range 20 {
		m[fmt.Sprintf("page-%d", i)] = fakePage(rng)
	}
	for i := range 20 {
		n := rng.IntN(65537)
		m[fmt.Sprintf("mixed-%d-%d", i, n)] = mixed(rng, n)
	}
	return m
}

// fakePage imitates a kernel page: zero stretches, pointers, small counters
// and some text.
func fakePage(rng *rand.Rand) []byte {
	p := make([]byte, 4096)
	for off := 0; off < len(p); off += 8 {
		switch rng.IntN(6) {
		case 0, 1:
			// zero
		case 2:
			binary.LittleEndian.PutUint64(p[off:], 0xffff888000000000|uint64(rng.IntN(1<<20))<<6)
		case 3:
			binary.LittleEndian.PutUint64(p[off:], uint64(rng.IntN(300)))
		case 4:
			copy(p[off:off+8], "kworker/")
		default:
			binary.LittleEndian.PutUint64(p[off:], rng.Uint64())
		}
	}
	return p
}

// mixed concatenates random, zero, and copied-from-earlier pieces.
func mixed(rng *rand.Rand, n int) []byte {
	b := make([]byte, 0, n)
	for len(b) < n {
		k := 1 + rng.IntN(300)
		switch rng.IntN(4) {
		case 0:
			for range k {
				b = append(b, byte(rng.Uint32()))
			}
		case 1:
			b = append(b, make([]byte, k)...)
		default:
			if len(b) == 0 {
				continue
			}
			from := rng.IntN(len(b))
			for i := range k {
				b = append(b, b[from+i])
			}
		}
	}
	return b[:n]
}

func roundTrip(t *testing.T, name string, data, src []byte) {
	t.Helper()
	dst := make([]byte, len(data)+64)
	n, err := Decompress(dst, src)
	if err != nil {
		t.Fatalf("%s: Decompress of %d-byte stream: %v", name, len(src), err)
	}
	if !bytes.Equal(dst[:n], data) {
		i := 0
		for i < n && i < len(data) && dst[i] == data[i] {
			i++
		}
		t.Fatalf("%s: got %d bytes, want %d; first difference at %d", name, n, len(data), i)
	}
}

func TestRoundTrip(t *testing.T) {
	var used [numForms]int
	for name, data := range inputs(t) {
		for i, opts := range []encOpts{
			{},
			{rng: rand.New(rand.NewPCG(uint64(len(data)), 7))},
			{rle: true},
			{rle: true, rng: rand.New(rand.NewPCG(uint64(len(data)), 9))},
		} {
			src, u := compressForms(data, opts)
			roundTrip(t, fmt.Sprintf("%s/opts%d", name, i), data, src)
			for f := range used {
				used[f] += u[f]
			}
		}
	}
	// The round trips only prove something if every instruction form ran.
	for f, n := range used {
		if n == 0 {
			t.Errorf("encoder never emitted %s", formNames[f])
		}
		t.Logf("%-18s %d", formNames[f], n)
	}
}

func TestRoundTripRandomSizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 300 {
		n := rng.IntN(65537)
		if i%3 == 0 {
			n = 4096
		}
		data := mixed(rng, n)
		roundTrip(t, fmt.Sprintf("mixed-%d", i), data, compress(data, encOpts{rng: rng, rle: i%2 == 0}))
	}
}

// Every proper prefix of a valid stream fails cleanly, having written only a
// correct prefix of the output.
func TestTruncated(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cases := [][]byte{fakePage(rng), mixed(rng, 4096), mixed(rng, 20000), make([]byte, 4096)}
	for ci, data := range cases {
		for _, opts := range []encOpts{{}, {rle: true}, {rng: rng}} {
			src := compress(data, opts)
			dst := make([]byte, len(data))
			for cut := range len(src) {
				clear(dst)
				n, err := Decompress(dst, src[:cut])
				if err == nil {
					t.Fatalf("case %d: prefix %d/%d decoded without error", ci, cut, len(src))
				}
				if !isSentinel(err) {
					t.Fatalf("case %d: prefix %d: unexpected error %v", ci, cut, err)
				}
				if n > len(dst) || !bytes.Equal(dst[:n], data[:n]) {
					t.Fatalf("case %d: prefix %d: n=%d, output is not a prefix of the data", ci, cut, n)
				}
			}
		}
	}
}

// A dst one byte short of the output overruns, for every size of data.
func TestShortDst(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, data := range [][]byte{fakePage(rng), make([]byte, 4096), []byte("x"), mixed(rng, 10000)} {
		for _, opts := range []encOpts{{}, {rle: true}} {
			src := compress(data, opts)
			for _, size := range []int{0, len(data) / 2, len(data) - 1} {
				dst := make([]byte, size)
				n, err := Decompress(dst, src)
				if !errors.Is(err, ErrOutputOverrun) {
					t.Fatalf("dst %d for %d bytes: err=%v, want ErrOutputOverrun", size, len(data), err)
				}
				if n > size || !bytes.Equal(dst[:n], data[:n]) {
					t.Fatalf("dst %d: n=%d, output is not a prefix", size, n)
				}
			}
		}
	}
}

// Positions in the error text help when a dump page fails to decode.
func TestErrorContext(t *testing.T) {
	_, err := Decompress(make([]byte, 16), []byte{18, 'a', 0x00, 0x01, 0x11, 0, 0})
	if err == nil || !strings.Contains(err.Error(), "input offset 4") || !strings.Contains(err.Error(), "output offset 1") {
		t.Fatalf("err = %v, want input offset 4 and output offset 1", err)
	}
}

func isSentinel(err error) bool {
	return errors.Is(err, ErrInputOverrun) || errors.Is(err, ErrOutputOverrun) ||
		errors.Is(err, ErrLookbehindOverrun) || errors.Is(err, ErrCorrupt)
}

func BenchmarkDecompress4K(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"page", fakePage(rng)},
		{"text", []byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", 92)[:4096])},
		{"mixed", mixed(rng, 4096)},
	} {
		src := compress(bc.data, encOpts{})
		dst := make([]byte, 4096)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(4096)
			for b.Loop() {
				if _, err := Decompress(dst, src); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(src)), "src-bytes")
		})
	}
	// Real liblzo2 pages from the kdump fixture, cycled (skipped without it).
	b.Run("kdump", func(b *testing.B) {
		pages := readKdumpLZO(b, 512)
		dst := make([]byte, 4096)
		b.SetBytes(4096)
		i := 0
		for b.Loop() {
			if _, err := Decompress(dst, pages[i%len(pages)].src); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
