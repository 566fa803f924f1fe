package diskdump

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"

	"github.com/panicscope/panicscope/vmcore/phys"
)

// bitmap is one of the dump's pfn bitmaps: bit (pfn & 7) of byte pfn/8,
// i.e. bit pfn%64 of little-endian word pfn/64. It is read from the file a
// block at a time, on demand, through a small cache, so memory does not grow
// with the machine's RAM size (a 16 TiB machine has two 512 MiB bitmaps).
//
// The 2nd bitmap also gets a coarse rank index (indexRank): the set bits
// before each block, so pfn -> descriptor index costs one block read (crash's
// valid_pages keeps one count per 4096 pfns, but in memory next to the
// whole bitmap).
type bitmap struct {
	r     io.ReaderAt
	off   int64  // file offset of the bitmap's byte 0
	nbits uint64 // pfns covered (bits past it read as clear)
	shift uint   // log2 of the bytes per block
	// ranks[i] = set bits in blocks [0, i), len(ranks) = blocks+1; nil
	// until indexRank.
	ranks []uint64
	cache *phys.PageCache // block number -> its bytes
}

const (
	minBlockShift = 12 // 4 KiB blocks: one rank entry per 32768 pfns (64 KiB per TiB of RAM)
	// maxIndexBlocks caps the rank index at 1 MiB: bitmaps of more than
	// 16 TiB of RAM get larger blocks instead.
	maxIndexBlocks = 1 << 17
	// bitmapCacheBytes bounds each bitmap's cache (at least 4 blocks).
	bitmapCacheBytes = 256 << 10
	// bitmapChunk is how much of a bitmap indexRank reads at a time.
	bitmapChunk = 1 << 20
)

func newBitmap(r io.ReaderAt, off int64, nbits uint64) *bitmap {
	m := &bitmap{r: r, off: off, nbits: nbits, shift: minBlockShift}
	for m.blocks() > maxIndexBlocks {
		m.shift++
	}
	m.cache = phys.NewPageCache(max(4, bitmapCacheBytes>>m.shift))
	return m
}

func (m *bitmap) nbytes() uint64            { return (m.nbits + 7) / 8 }
func (m *bitmap) blockBytes() uint64        { return 1 << m.shift }
func (m *bitmap) blockBits() uint64         { return 8 << m.shift }
func (m *bitmap) blocks() uint64            { return (m.nbytes() + m.blockBytes() - 1) >> m.shift }
func (m *bitmap) blockOf(pfn uint64) uint64 { return pfn / m.blockBits() }

// block returns block b's bytes (blockBytes long; bits past nbits clear).
func (m *bitmap) block(b uint64) ([]byte, error) {
	if p, ok := m.cache.Get(b); ok {
		return p, nil
	}
	buf := make([]byte, m.blockBytes())
	if err := m.readBlocks(buf, b); err != nil {
		return nil, err
	}
	m.cache.Put(b, buf)
	return buf, nil
}

// readBlocks fills buf (whole blocks) from block b on, masking what lies
// past nbits.
func (m *bitmap) readBlocks(buf []byte, b uint64) error {
	start := b << m.shift
	n := min(uint64(len(buf)), m.nbytes()-min(start, m.nbytes()))
	if n > 0 {
		if k, err := m.r.ReadAt(buf[:n], m.off+int64(start)); uint64(k) < n {
			return fmt.Errorf("bitmap at %#x: %w", m.off+int64(start), orUnexpectedEOF(err))
		}
	}
	clear(buf[n:])
	if end := start + n; end == m.nbytes() && m.nbits%8 != 0 && n > 0 {
		buf[n-1] &= 1<<(m.nbits%8) - 1
	}
	return nil
}

// empty reports that block b has no bit set, when the index knows.
func (m *bitmap) empty(b uint64) bool {
	return m.ranks != nil && m.ranks[b+1] == m.ranks[b]
}

func (m *bitmap) test(pfn uint64) (bool, error) {
	if pfn >= m.nbits {
		return false, nil
	}
	b := m.blockOf(pfn)
	if m.empty(b) {
		return false, nil
	}
	blk, err := m.block(b)
	if err != nil {
		return false, err
	}
	i := pfn % m.blockBits()
	return blk[i/8]&(1<<(i%8)) != 0, nil
}

// rank is the number of set bits below pfn (pfn may be nbits or more).
// It needs the index.
func (m *bitmap) rank(pfn uint64) (uint64, error) {
	if pfn >= m.nbits {
		return m.ranks[len(m.ranks)-1], nil
	}
	b := m.blockOf(pfn)
	n := m.ranks[b]
	i := pfn % m.blockBits()
	if i == 0 || m.empty(b) {
		return n, nil
	}
	blk, err := m.block(b)
	if err != nil {
		return 0, err
	}
	return n + onesBelow(blk, i), nil
}

// selectBit returns the pfn of set bit number k (counted from 0), using
// the index.
func (m *bitmap) selectBit(k uint64) (uint64, bool) {
	if m.ranks == nil || k >= m.ranks[len(m.ranks)-1] {
		return 0, false
	}
	// Last block b with ranks[b] <= k.
	lo, hi := 0, len(m.ranks)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if m.ranks[mid] <= k {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	b := uint64(lo)
	blk, err := m.block(b)
	if err != nil {
		return 0, false
	}
	left := k - m.ranks[b]
	for w := uint64(0); 8*w < uint64(len(blk)); w++ {
		x := binary.LittleEndian.Uint64(blk[8*w:])
		if c := uint64(bits.OnesCount64(x)); left >= c {
			left -= c
			continue
		}
		for ; left > 0; left-- {
			x &= x - 1
		}
		return b*m.blockBits() + 64*w + uint64(bits.TrailingZeros64(x)), true
	}
	return 0, false
}

// onesBelow counts the set bits of b below bit i.
func onesBelow(b []byte, i uint64) uint64 {
	var n uint64
	w := i / 64
	for k := uint64(0); k < w; k++ {
		n += uint64(bits.OnesCount64(binary.LittleEndian.Uint64(b[8*k:])))
	}
	if r := i % 64; r != 0 {
		n += uint64(bits.OnesCount64(binary.LittleEndian.Uint64(b[8*w:]) & (1<<r - 1)))
	}
	return n
}

// zeros is compared against to skip empty stretches quickly.
var zeros [bitmapChunk]byte

// indexRank reads the bitmap once, a chunk at a time, and records the set
// bits before each block. Stretches the reader knows hold no data (holes
// of a sparse file, gaps between a flattened stream's records) are not
// read.
func (m *bitmap) indexRank() error {
	nb := m.blocks()
	m.ranks = make([]uint64, nb+1)
	chunkBlocks := max(1, uint64(bitmapChunk)>>m.shift)
	buf := make([]byte, chunkBlocks<<m.shift)
	skip := holeSkipperOf(m.r)
	var n uint64
	for b := uint64(0); b < nb; {
		if skip != nil {
			pos := m.off + int64(b<<m.shift)
			if next, ok := skip(pos); ok && next > pos {
				// No data until next: those blocks hold no set bit.
				to := min(nb, uint64(next-m.off)>>m.shift)
				for ; b < to; b++ {
					m.ranks[b+1] = n
				}
				if b >= nb {
					break
				}
			}
		}
		k := min(chunkBlocks, nb-b)
		chunk := buf[:k<<m.shift]
		if err := m.readBlocks(chunk, b); err != nil {
			m.ranks = nil
			return err
		}
		for j := uint64(0); j < k; j++ {
			blk := chunk[j<<m.shift : (j+1)<<m.shift]
			if !bytes.Equal(blk, zeros[:len(blk)]) {
				n += onesBelow(blk, m.blockBits())
			}
			m.ranks[b+j+1] = n
		}
		b += k
	}
	return nil
}

// holeSkipper returns, for a file offset, the next offset at or after it
// that may hold a non-zero byte, and false when it cannot tell.
type holeSkipper func(off int64) (int64, bool)

// dataFinder is implemented by readers that know where their data lies
// (flat.Reader: the next record).
type dataFinder interface {
	NextData(off int64) (int64, bool)
}

// seekData is SEEK_DATA (Linux, the BSDs, macOS, Solaris): the next data
// region of a sparse file.
const seekData = 3

func holeSkipperOf(r io.ReaderAt) holeSkipper {
	switch v := r.(type) {
	case dataFinder:
		return v.NextData
	case *os.File:
		return func(off int64) (int64, bool) {
			next, err := v.Seek(off, seekData)
			if err != nil {
				// ENXIO: no data after off; anything else: not supported.
				if errors.Is(err, errNoData) {
					if st, err := v.Stat(); err == nil {
						return max(off, st.Size()), true
					}
				}
				return 0, false
			}
			return next, true
		}
	}
	return nil
}

// word returns little-endian word w of a block.
func (m *bitmap) word(blk []byte, w uint64) uint64 {
	return binary.LittleEndian.Uint64(blk[8*w:])
}

// runs returns the maximal runs of pfns in [lo, hi) set in both a and b, as
// byte ranges (pfn << shift). Blocks of b the index knows are empty are not
// read. a and b must have the same block size.
func runs(a, b *bitmap, lo, hi uint64, shift uint) ([]phys.Range, error) {
	var out []phys.Range
	var start uint64
	in := false
	flush := func(end uint64) {
		if in {
			out = append(out, phys.Range{Start: start << shift, End: end << shift})
			in = false
		}
	}
	hi = min(hi, a.nbits, b.nbits)
	bb := b.blockBits()
	for pfn := lo; pfn < hi; {
		bi := pfn / bb
		blockEnd := min((bi+1)*bb, hi)
		if b.empty(bi) {
			flush(pfn)
			pfn = blockEnd
			continue
		}
		ab, err := a.block(bi)
		if err != nil {
			return nil, err
		}
		bbk, err := b.block(bi)
		if err != nil {
			return nil, err
		}
		for pfn < blockEnd {
			i := pfn % bb
			wi := i / 64
			w := a.word(ab, wi) & b.word(bbk, wi)
			off := pfn % 64
			w >>= off
			left := 64 - off // bits of this word from pfn on
			if rem := blockEnd - pfn; rem < left {
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
	}
	flush(hi)
	return out, nil
}
