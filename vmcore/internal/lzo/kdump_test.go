package lzo

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
)

// Real liblzo2 output: the lzo pages of a makedumpfile -l dump decode to
// whole pages and, where the same crash's ELF copy holds the page, to the same
// bytes.
func TestKdumpLZOPages(t *testing.T) {
	pages := readKdumpLZO(t, 0)
	elfPage := openELFPages(t, filepath.Join(testfixtures.Dir(t), "kdump-6.1-lzo"))
	page := make([]byte, 4096)
	compared := 0
	for _, p := range pages {
		n, err := Decompress(page, p.src)
		if err != nil || n != len(page) {
			t.Fatalf("pfn %#x: %d-byte page: n=%d err=%v", p.pfn, len(p.src), n, err)
		}
		if want := elfPage(p.pfn * 4096); want != nil {
			if !bytes.Equal(page, want) {
				t.Fatalf("pfn %#x: decoded page differs from the ELF copy", p.pfn)
			}
			compared++
		}
	}
	t.Logf("%d lzo pages decoded, %d compared with the ELF copy", len(pages), compared)
}

type kdumpPage struct {
	pfn uint64
	src []byte // the compressed page
}

// readKdumpLZO returns up to limit (0: all) lzo-compressed pages of
// kdump-6.1-lzo/vmcore, or skips. Only the bits of the diskdump layout needed
// to find pages are read here; vmcore/internal/diskdump is the real reader.
func readKdumpLZO(tb testing.TB, limit int) []kdumpPage {
	tb.Helper()
	f, err := os.Open(filepath.Join(testfixtures.Dir(tb), "kdump-6.1-lzo", "vmcore"))
	if errors.Is(err, os.ErrNotExist) {
		tb.Skipf("no kdump-6.1-lzo/vmcore: %v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()

	// struct disk_dump_header (makedumpfile diskdump_mod.h), x86_64 layout.
	hdr := make([]byte, 0x1c0)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		tb.Fatal(err)
	}
	if string(hdr[:8]) != "KDUMP   " {
		tb.Fatalf("signature %q", hdr[:8])
	}
	le := binary.LittleEndian
	status := le.Uint32(hdr[0x1a8:])
	blockSize := int64(le.Uint32(hdr[0x1ac:]))
	subHdrBlocks := int64(le.Uint32(hdr[0x1b0:]))
	bitmapBlocks := int64(le.Uint32(hdr[0x1b4:]))
	const lzoFlag = 0x2 // DUMP_DH_COMPRESSED_LZO
	if status&lzoFlag == 0 || blockSize != 4096 || bitmapBlocks == 0 || bitmapBlocks > 1024 || subHdrBlocks > 1024 {
		tb.Fatalf("unexpected header: status %#x block %d sub %d bitmap %d", status, blockSize, subHdrBlocks, bitmapBlocks)
	}

	// The second half of the bitmap marks the dumped pages; their
	// descriptors (24 bytes: offset, size, flags, page_flags) follow the
	// bitmap in pfn order.
	half := bitmapBlocks / 2 * blockSize
	bitmap := make([]byte, half)
	if _, err := f.ReadAt(bitmap, (1+subHdrBlocks)*blockSize+half); err != nil {
		tb.Fatal(err)
	}
	var pfns []uint64
	for i, b := range bitmap {
		for b != 0 {
			pfns = append(pfns, uint64(i)*8+uint64(bits.TrailingZeros8(b)))
			b &= b - 1
		}
	}
	descs := make([]byte, 24*len(pfns))
	if _, err := f.ReadAt(descs, (1+subHdrBlocks+bitmapBlocks)*blockSize); err != nil {
		tb.Fatal(err)
	}
	var pages []kdumpPage
	for i, pfn := range pfns {
		d := descs[24*i:]
		off, size, flags := int64(le.Uint64(d)), le.Uint32(d[8:]), le.Uint32(d[12:])
		if flags&lzoFlag == 0 {
			continue
		}
		if size == 0 || int64(size) >= blockSize {
			tb.Fatalf("pfn %#x: lzo page of %d bytes", pfn, size)
		}
		src := make([]byte, size)
		if _, err := f.ReadAt(src, off); err != nil {
			tb.Fatalf("pfn %#x: %v", pfn, err)
		}
		pages = append(pages, kdumpPage{pfn, src})
		if len(pages) == limit {
			break
		}
	}
	if len(pages) == 0 {
		tb.Fatal("no lzo pages found")
	}
	return pages
}

// openELFPages returns a lookup of a physical page in the fixture's ELF copy
// (nil when absent), or a lookup that always says absent when the copy is
// unavailable or -short is set.
func openELFPages(t *testing.T, fixture string) func(paddr uint64) []byte {
	none := func(uint64) []byte { return nil }
	zst := filepath.Join(fixture, "vmcore.elf.zst")
	if _, err := os.Stat(zst); err != nil || testing.Short() {
		t.Logf("not comparing with the ELF copy (short=%v, %v)", testing.Short(), err)
		return none
	}
	ef, err := elf.Open(testfixtures.Decompressed(t, zst))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ef.Close() })
	return func(paddr uint64) []byte {
		for _, p := range ef.Progs {
			if p.Type != elf.PT_LOAD || paddr < p.Paddr || paddr+4096 > p.Paddr+p.Filesz {
				continue
			}
			buf := make([]byte, 4096)
			if _, err := p.ReadAt(buf, int64(paddr-p.Paddr)); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			return buf
		}
		return nil
	}
}
