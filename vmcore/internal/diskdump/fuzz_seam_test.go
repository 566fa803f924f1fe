package diskdump

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/internal/flat"
	"github.com/panicscope/panicscope/vmcore/phys"
)

// flattenChunks writes file as a flattened stream in chunks of n bytes,
// the odd chunks first (records need not come in order).
func flattenChunks(file []byte, n int) []byte {
	var recs []flatRec
	for pass := 1; pass >= 0; pass-- {
		for i, off := 0, 0; off < len(file); i, off = i+1, off+n {
			if i%2 == pass {
				recs = append(recs, flatRec{int64(off), file[off:min(off+n, len(file))]})
			}
		}
	}
	return flatten(recs...)
}

// FuzzFlatSeam feeds flattened streams to the flattened -> kdump-compressed
// seam (flat.Open, then diskdump.Open over the rearranged file): an error or
// a File whose reads, ranges and cut are consistent, never a panic or an
// allocation sized by a field. Seeds: synthetic streams (in order, out of
// order, cut) and, when ../shared is there, the head of a real
// makedumpfile -F stream.
func FuzzFlatSeam(f *testing.F) {
	const sb = 512
	s := tspec{blockSize: sb, status: StatusCompressedZlib, maxMapnr: 40, dumpLevel: 31,
		vmcoreinfo: []byte("OSRELEASE=x\n"), ram: []uint64{6, 7, 30},
		pages: []tpage{
			{pfn: 0, data: content(sb, 0), enc: methodZlib},
			{pfn: 3, data: periodic(sb, 3), enc: methodLZO},
			{pfn: 31, data: content(sb, 31), enc: methodNone},
		}}
	file := build(s)
	f.Add(flattenChunks(file, len(file)))
	f.Add(flattenChunks(file, 300))
	cut := flattenChunks(file, 700)
	f.Add(cut[:len(cut)-600])
	if dir, ok := testfixtures.Lookup(); ok {
		if fh, err := os.Open(filepath.Join(dir, "kdump-6.1-zlib-postnotifiers", "vmcore.flat")); err == nil {
			head := make([]byte, 48<<10)
			n, _ := io.ReadFull(fh, head)
			fh.Close()
			f.Add(head[:n])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := flat.Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		d, err := Open(fr, fr.Size())
		if err != nil {
			return
		}
		if d.maxPFN > maxPFNs || (d.dumped != nil && len(d.dumped.ranks) > maxIndexBlocks+1) {
			t.Fatalf("maxPFN %#x beyond %#x, or an index over %d entries", d.maxPFN, uint64(maxPFNs), maxIndexBlocks+1)
		}
		buf := make([]byte, 64)
		rs := d.Ranges()
		for i, r := range rs {
			if i >= 4 {
				break
			}
			if r.End <= r.Start {
				t.Fatalf("empty range %v", r)
			}
			err := d.ReadPhys(buf, r.Start)
			if err != nil && !phys.IsMissing(err) && !errors.Is(err, ErrCorruptPage) {
				t.Fatalf("read %#x: %v", r.Start, err)
			}
		}
		if c, ok := d.Cut(); ok && (c.FileSize != fr.Size() || c.PagesAtMost > d.DumpedPages() || (c.HasFirst && c.FirstMissingPFN >= d.maxPFN)) {
			t.Fatalf("cut %+v of a %d-byte file holding %d pages below pfn %d", c, fr.Size(), d.DumpedPages(), d.maxPFN)
		}
	})
}

// FuzzWriter drives the writer trim uses with fuzz-chosen pages, lost
// pages, existing ranges, compression and max_mapnr: what it writes must
// open, and every page must read back as it was added (lost ones as
// beyond the end, existing ones as excluded).
func FuzzWriter(f *testing.F) {
	f.Add(uint64(64), uint8(0), []byte{1, 0, 5, 2, 9, 0xff, 40, 3})
	f.Add(uint64(1<<20), uint8(1), []byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0x0f, 7, 7})
	f.Add(uint64(3), uint8(2), []byte{2, 1})
	f.Fuzz(func(t *testing.T, mapnr uint64, comp uint8, spec []byte) {
		if mapnr == 0 || mapnr > 1<<24 || len(spec) > 256 {
			return
		}
		methods := []string{"zlib", "zstd", "snappy", "none"}
		w, err := NewWriter(WriteOptions{BlockSize: 512, MaxMapnr: mapnr, Compression: methods[int(comp)%len(methods)]})
		if err != nil {
			t.Fatal(err)
		}
		added := map[uint64][]byte{}
		lost := map[uint64]bool{}
		var exists [][2]uint64
		for i := 0; i+3 <= len(spec); i += 3 {
			pfn := uint64(binary.LittleEndian.Uint16(spec[i:])) % mapnr
			switch op := spec[i+2]; {
			case op < 0x40:
				if !lost[pfn] {
					page := bytes.Repeat([]byte{op}, 512)
					if op%3 == 0 {
						page = content(512, pfn^uint64(op))
					}
					if w.AddPage(pfn, page) == nil {
						added[pfn] = page
					}
				}
			case op < 0x80:
				if _, ok := added[pfn]; !ok && w.AddLost(pfn) == nil {
					lost[pfn] = true
				}
			default:
				hi := min(pfn+uint64(op&0x3f)+1, mapnr)
				w.SetExists(pfn, hi)
				exists = append(exists, [2]uint64{pfn, hi})
			}
		}
		var out bytes.Buffer
		st, err := w.Write(&out)
		if err != nil {
			t.Fatal(err)
		}
		if st.Bytes != int64(out.Len()) || st.Pages != len(added) || st.LostPages != len(lost) {
			t.Fatalf("stats %+v for %d bytes, %d pages, %d lost", st, out.Len(), len(added), len(lost))
		}
		d, err := Open(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("written file does not open: %v", err)
		}
		got := make([]byte, 512)
		for pfn, want := range added {
			if err := d.ReadPhys(got, pfn*512); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("pfn %d: %v (same %v)", pfn, err, bytes.Equal(got, want))
			}
		}
		for pfn := range lost {
			var me *phys.MissingError
			if err := d.ReadPhys(got, pfn*512); !errors.As(err, &me) || me.Reason != phys.BeyondEnd {
				t.Fatalf("lost pfn %d: %v", pfn, err)
			}
		}
		for _, r := range exists {
			if _, ok := added[r[0]]; ok || lost[r[0]] {
				continue
			}
			var me *phys.MissingError
			if err := d.ReadPhys(got, r[0]*512); !errors.As(err, &me) || me.Reason != phys.Excluded {
				t.Fatalf("existing pfn %d: %v", r[0], err)
			}
		}
	})
}
