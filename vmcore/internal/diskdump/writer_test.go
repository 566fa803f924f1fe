package diskdump

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"slices"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// A synthetic kdump-compressed writer, laid out as makedumpfile's
// write_kdump_header / write_kdump_bitmap / write_kdump_pages do.

// tpage is one dumped page.
type tpage struct {
	pfn  uint64
	data []byte // block_size bytes of content
	enc  method
	// raw overrides the stored bytes (and size) to build corrupt pages.
	raw   []byte
	flags *uint32 // overrides page_desc_t.flags
	// zeroDesc leaves the descriptor zeroed, as an incomplete dump does.
	zeroDesc bool
}

type tspec struct {
	sig        string // default "KDUMP   "
	blockSize  int
	version    int32
	status     uint32
	maxMapnr   uint64
	ram        []uint64 // pfns set in the 1st bitmap (dumped pages are added)
	pages      []tpage
	vmcoreinfo []byte
	notes      []byte
	dumpLevel  int32
	split      bool
	start, end uint64
	nrCPUs     int32
	release    string
	singleMap  bool // DISKDUMP with one bitmap
}

func encodePage(m method, data []byte) []byte {
	switch m {
	case methodZlib:
		var b bytes.Buffer
		w := zlib.NewWriter(&b)
		w.Write(data)
		w.Close()
		return b.Bytes()
	case methodSnappy:
		return snappy.Encode(nil, data)
	case methodZstd:
		enc, _ := zstd.NewWriter(nil)
		defer enc.Close()
		return enc.EncodeAll(data, nil)
	case methodLZO:
		if isPeriodic(data) {
			return lzoRepeat(data)
		}
		return lzoLiterals(data)
	}
	return slices.Clone(data)
}

// lzoLiterals encodes data (> 18 bytes) as one LZO1X literal run and the
// end marker (Documentation/staging/lzo.rst: a first byte 0 starts a long
// literal run of 18 + 255*zero_bytes + last_byte; 0x11 0 0 ends the stream).
func lzoLiterals(data []byte) []byte {
	rest := len(data) - 18
	zeros, last := rest/255, rest%255
	if last == 0 {
		zeros, last = zeros-1, 255
	}
	out := []byte{0}
	out = append(out, make([]byte, zeros)...)
	out = append(out, byte(last))
	out = append(out, data...)
	return append(out, 0x11, 0, 0)
}

// periodic makes a block_size page repeating a 32-byte pattern, which
// lzoRepeat compresses well below the block size.
func periodic(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed*13 + byte(i%32)*7
	}
	return b
}

func isPeriodic(b []byte) bool {
	if len(b) < 64 {
		return false
	}
	for i := 32; i < len(b); i++ {
		if b[i] != b[i-32] {
			return false
		}
	}
	return true
}

// lzoRepeat encodes a 32-periodic page as 32 literals (first byte 17+32)
// then one M3 match at distance 32 for the rest: 0b001_00000 with the
// length continued as 31 + 255*zero_bytes + last_byte, and the LE16
// distance-1 << 2 (no trailing literals), then the end marker.
func lzoRepeat(data []byte) []byte {
	out := []byte{17 + 32}
	out = append(out, data[:32]...)
	rest := len(data) - 32 - 2 - 31
	zeros, last := rest/255, rest%255
	if last == 0 {
		zeros, last = zeros-1, 255
	}
	out = append(out, 0x20)
	out = append(out, make([]byte, zeros)...)
	out = append(out, byte(last))
	out = append(out, (32-1)<<2, 0)
	return append(out, 0x11, 0, 0)
}

func flagOf(m method) uint32 {
	switch m {
	case methodZlib:
		return StatusCompressedZlib
	case methodLZO:
		return StatusCompressedLZO
	case methodSnappy:
		return StatusCompressedSnappy
	case methodZstd:
		return StatusCompressedZstd
	}
	return 0
}

func setBit(b []byte, pfn uint64) { b[pfn/8] |= 1 << (pfn % 8) }

// build writes the file. Pages must have distinct pfns below maxMapnr.
func build(s tspec) []byte {
	if s.blockSize == 0 {
		s.blockSize = 4096
	}
	if s.sig == "" {
		s.sig = sigKdump
	}
	if s.version == 0 {
		s.version = 6
	}
	if s.nrCPUs == 0 {
		s.nrCPUs = 2
	}
	bs := s.blockSize
	le := binary.LittleEndian
	pages := slices.Clone(s.pages)
	slices.SortFunc(pages, func(a, b tpage) int { return int(a.pfn) - int(b.pfn) })

	// Sub header, then notes and VMCOREINFO right after it, as makedumpfile does.
	noteOff := uint64(bs + subHeaderSize)
	infoOff := noteOff + uint64(len(s.notes))
	subBytes := subHeaderSize + len(s.notes) + len(s.vmcoreinfo)
	subHdrBlocks := (subBytes + bs - 1) / bs
	if s.sig != sigKdump {
		subHdrBlocks = 1
	}
	mapBytes := int((s.maxMapnr + 7) / 8)
	mapBlocks := (mapBytes + bs - 1) / bs
	bitmapBlocks := 2 * mapBlocks
	if s.singleMap {
		bitmapBlocks = mapBlocks
	}
	bitmapOff := (1 + subHdrBlocks) * bs
	descOff := bitmapOff + bitmapBlocks*bs
	dataOff := descOff + len(pages)*descSize

	out := make([]byte, dataOff)
	copy(out, s.sig)
	le.PutUint32(out[8:], uint32(s.version))
	copy(out[12+2*65:], s.release)
	copy(out[12+4*65:], "x86_64")
	le.PutUint64(out[408:], 1700000000)
	le.PutUint64(out[416:], 250000)
	le.PutUint32(out[424:], s.status)
	le.PutUint32(out[428:], uint32(bs))
	le.PutUint32(out[432:], uint32(subHdrBlocks))
	le.PutUint32(out[436:], uint32(bitmapBlocks))
	le.PutUint32(out[440:], uint32(s.maxMapnr))
	le.PutUint32(out[444:], uint32(len(pages)))
	le.PutUint32(out[460:], uint32(s.nrCPUs))

	if s.sig == sigKdump {
		sh := out[bs:]
		le.PutUint64(sh[0:], 0x6800000) // phys_base
		le.PutUint32(sh[8:], uint32(s.dumpLevel))
		if s.split {
			le.PutUint32(sh[12:], 1)
			le.PutUint64(sh[16:], s.start)
			le.PutUint64(sh[24:], s.end)
		}
		if len(s.vmcoreinfo) > 0 {
			le.PutUint64(sh[32:], infoOff)
			le.PutUint64(sh[40:], uint64(len(s.vmcoreinfo)))
		}
		if len(s.notes) > 0 {
			le.PutUint64(sh[48:], noteOff)
			le.PutUint64(sh[56:], uint64(len(s.notes)))
		}
		if s.split {
			le.PutUint64(sh[80:], s.start)
			le.PutUint64(sh[88:], s.end)
		}
		le.PutUint64(sh[96:], s.maxMapnr)
		copy(out[noteOff:], s.notes)
		copy(out[infoOff:], s.vmcoreinfo)
	}

	ram := out[bitmapOff : bitmapOff+mapBytes]
	dumped := out[bitmapOff+mapBlocks*bs : bitmapOff+mapBlocks*bs+mapBytes]
	if s.singleMap {
		dumped = ram
	}
	for _, pfn := range s.ram {
		setBit(ram, pfn)
	}
	for _, p := range pages {
		setBit(ram, p.pfn)
		setBit(dumped, p.pfn)
	}
	// Data is appended after the bitmaps are final: append may move out.
	for i, p := range pages {
		stored := p.raw
		if stored == nil {
			stored = encodePage(p.enc, p.data)
		}
		flags := flagOf(p.enc)
		if p.flags != nil {
			flags = *p.flags
		}
		d := out[descOff+i*descSize:]
		if !p.zeroDesc {
			le.PutUint64(d[0:], uint64(len(out)))
			le.PutUint32(d[8:], uint32(len(stored)))
			le.PutUint32(d[12:], flags)
		}
		out = append(out, stored...)
	}
	return out
}

// content makes a recognisable, compressible page.
func content(bs int, pfn uint64) []byte {
	b := make([]byte, bs)
	for i := range b {
		b[i] = byte(pfn*31) ^ byte(i/16)
	}
	binary.LittleEndian.PutUint64(b, pfn)
	return b
}
