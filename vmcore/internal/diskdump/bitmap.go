package diskdump

import (
	"encoding/binary"
	"math/bits"

	"github.com/panicscope/panicscope/vmcore/phys"
)

// bitmap is one of the dump's pfn bitmaps: bit (pfn & 7) of byte pfn/8,
// i.e. bit pfn%64 of little-endian word pfn/64.
type bitmap struct {
	words []uint64
	nbits uint64
	// ranks[i] = set bits in words[:i*wordsPerRank]; lets rank() count at
	// most wordsPerRank-1 words plus one, so pfn -> descriptor index is
	// O(1) without reading any descriptor (crash's valid_pages does the
	// same per 4096 pfns).
	ranks []uint64
}

const wordsPerRank = 8 // one rank entry per 512 pfns: 1/64 of the bitmap's size

func newBitmap(b []byte, nbits uint64) bitmap {
	words := make([]uint64, (len(b)+7)/8)
	for i := range words {
		if j := i * 8; j+8 <= len(b) {
			words[i] = binary.LittleEndian.Uint64(b[j:])
		} else {
			var tail [8]byte
			copy(tail[:], b[j:])
			words[i] = binary.LittleEndian.Uint64(tail[:])
		}
	}
	// Bits past nbits (the last byte's padding) do not count.
	if r := nbits % 64; r != 0 && len(words) > 0 {
		words[len(words)-1] &= 1<<r - 1
	}
	return bitmap{words: words, nbits: nbits}
}

func (m *bitmap) buildRank() {
	m.ranks = make([]uint64, len(m.words)/wordsPerRank+1)
	var n uint64
	for i, w := range m.words {
		if i%wordsPerRank == 0 {
			m.ranks[i/wordsPerRank] = n
		}
		n += uint64(bits.OnesCount64(w))
	}
	if len(m.words)%wordsPerRank == 0 {
		m.ranks[len(m.ranks)-1] = n
	}
}

func (m *bitmap) test(pfn uint64) bool {
	if pfn >= m.nbits {
		return false
	}
	return m.words[pfn/64]&(1<<(pfn%64)) != 0
}

// rank is the number of set bits below pfn (pfn may be nbits).
func (m *bitmap) rank(pfn uint64) uint64 {
	if pfn >= m.nbits {
		pfn = m.nbits
	}
	w := pfn / 64
	r := w / wordsPerRank
	n := m.ranks[r]
	for i := r * wordsPerRank; i < w; i++ {
		n += uint64(bits.OnesCount64(m.words[i]))
	}
	if b := pfn % 64; b != 0 {
		n += uint64(bits.OnesCount64(m.words[w] & (1<<b - 1)))
	}
	return n
}

// runs returns the maximal runs of pfns in [lo, hi) set in both a and b,
// as byte ranges (pfn << shift).
func runs(a, b *bitmap, lo, hi uint64, shift uint) []phys.Range {
	var out []phys.Range
	var start uint64
	in := false
	flush := func(end uint64) {
		if in {
			out = append(out, phys.Range{Start: start << shift, End: end << shift})
			in = false
		}
	}
	for pfn := lo; pfn < hi; {
		wi := pfn / 64
		w := a.words[wi] & b.words[wi]
		off := pfn % 64
		w >>= off
		left := 64 - off // bits of this word from pfn on
		if rem := hi - pfn; rem < left {
			left = rem
			w &= 1<<left - 1
		}
		switch {
		case w == 0:
			flush(pfn)
			pfn += left
		case left == 64 && w == ^uint64(0):
			if !in {
				start, in = pfn, true
			}
			pfn += 64
		default:
			// Walk the word bit by bit through its runs.
			for i := uint64(0); i < left; {
				if w&(1<<i) == 0 {
					flush(pfn + i)
					z := uint64(bits.TrailingZeros64(w >> i))
					if z > left-i {
						z = left - i
					}
					i += z
					continue
				}
				if !in {
					start, in = pfn+i, true
				}
				o := uint64(bits.TrailingZeros64(^(w >> i)))
				i += o
			}
			pfn += left
		}
	}
	flush(hi)
	return out
}
