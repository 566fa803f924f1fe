package diskdump

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand"
	"strings"
	"sync"
	"testing"

	"github.com/panicscope/panicscope/vmcore/phys"
)

func openBytes(t testing.TB, b []byte) *File {
	t.Helper()
	f, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return f
}

func missing(t *testing.T, err error, addr uint64, reason phys.MissingReason) {
	t.Helper()
	var me *phys.MissingError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want *phys.MissingError(%v)", err, reason)
	}
	if me.Addr != addr || me.Reason != reason {
		t.Fatalf("MissingError{%#x, %v}, want {%#x, %v}", me.Addr, me.Reason, addr, reason)
	}
}

const bs = 4096

// mixed is a dump with every encoding, an excluded page, a hole in the
// 1st bitmap and max_mapnr 64.
func mixed() tspec {
	return tspec{
		status:     StatusCompressedZlib,
		maxMapnr:   64,
		dumpLevel:  31,
		release:    "6.1.0-test",
		vmcoreinfo: []byte("OSRELEASE=6.1.0-test\nPAGESIZE=4096\n"),
		notes:      []byte("\x05\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x00CORE\x00\x00\x00\x00abcd"),
		ram:        []uint64{5, 6, 7, 20, 21, 22, 23}, // 7 and 23 are excluded; 8..19 do not exist
		pages: []tpage{
			{pfn: 0, data: content(bs, 0), enc: methodZlib},
			{pfn: 1, data: content(bs, 1), enc: methodSnappy},
			{pfn: 2, data: content(bs, 2), enc: methodZstd},
			{pfn: 3, data: content(bs, 3), enc: methodNone},
			{pfn: 4, data: periodic(bs, 4), enc: methodLZO},
			{pfn: 5, data: content(bs, 5), enc: methodZlib},
			{pfn: 6, data: content(bs, 6), enc: methodZlib},
			{pfn: 20, data: content(bs, 20), enc: methodZstd},
			{pfn: 21, data: content(bs, 21), enc: methodNone},
			{pfn: 22, data: content(bs, 22), enc: methodSnappy},
			{pfn: 63, data: content(bs, 63), enc: methodZlib},
		},
	}
}

func TestReadEveryEncoding(t *testing.T) {
	s := mixed()
	f := openBytes(t, build(s))
	for _, p := range s.pages {
		got := make([]byte, bs)
		if err := f.ReadPhys(got, p.pfn*bs); err != nil {
			t.Fatalf("pfn %d (%s): %v", p.pfn, p.enc, err)
		}
		if !bytes.Equal(got, p.data) {
			t.Fatalf("pfn %d (%s): content differs", p.pfn, p.enc)
		}
		// A small unaligned read inside the page (served from the cache).
		small := make([]byte, 10)
		if err := f.ReadPhys(small, p.pfn*bs+4000); err != nil || !bytes.Equal(small, p.data[4000:4010]) {
			t.Fatalf("pfn %d: small read %v", p.pfn, err)
		}
	}
	// A read crossing pages 0..6 in one call.
	all := make([]byte, 7*bs-100)
	if err := f.ReadPhys(all, 50); err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, p := range s.pages[:7] {
		want = append(want, p.data...)
	}
	if !bytes.Equal(all, want[50:50+len(all)]) {
		t.Fatal("multi-page read differs")
	}
	if got := f.Compression(); got != "zlib+lzo+snappy+zstd+none" {
		t.Errorf("Compression = %q", got)
	}
	if f.DumpedPages() != uint64(len(s.pages)) {
		t.Errorf("DumpedPages = %d", f.DumpedPages())
	}
}

func TestMissingReasons(t *testing.T) {
	f := openBytes(t, build(mixed()))
	buf := make([]byte, 8)
	missing(t, f.ReadPhys(buf, 7*bs+16), 7*bs+16, phys.Excluded)  // 1st bitmap only
	missing(t, f.ReadPhys(buf, 23*bs), 23*bs, phys.Excluded)      // 1st bitmap only
	missing(t, f.ReadPhys(buf, 10*bs+1), 10*bs+1, phys.NotInDump) // no bit at all
	missing(t, f.ReadPhys(buf, 64*bs), 64*bs, phys.NotInDump)     // pfn == max_mapnr
	missing(t, f.ReadPhys(buf, 1<<40), 1<<40, phys.NotInDump)     // far beyond
	missing(t, f.ReadPhys(buf, ^uint64(0)-3), ^uint64(0)-3, phys.NotInDump)
	// Crossing from dumped pfn 6 into excluded pfn 7: the error names the
	// first byte of pfn 7, and the part before it was filled.
	big := make([]byte, 200)
	err := f.ReadPhys(big, 7*bs-100)
	missing(t, err, 7*bs, phys.Excluded)
	if !bytes.Equal(big[:100], content(bs, 6)[bs-100:]) {
		t.Fatal("bytes before the excluded page were not read")
	}
	// Crossing from pfn 22 (dumped) into 23 (excluded) from the cache.
	missing(t, f.ReadPhys(make([]byte, bs), 22*bs+1), 23*bs, phys.Excluded)
	if !phys.IsMissing(f.ReadPhys(buf, 9*bs)) {
		t.Fatal("IsMissing false")
	}
}

func TestHeaderFields(t *testing.T) {
	s := mixed()
	f := openBytes(t, build(s))
	h := f.Header()
	if h.Signature != "KDUMP   " || h.Version != 6 || h.BlockSize != bs || h.MaxMapnr != 64 || h.MaxMapnr32 != 64 || h.NrCPUs != 2 {
		t.Fatalf("header %+v", h)
	}
	if h.UTSName.Release != "6.1.0-test" || h.UTSName.Machine != "x86_64" || h.UTSName.Sysname != "" {
		t.Fatalf("utsname %+v", h.UTSName)
	}
	if h.Timestamp.Sec != 1700000000 || h.Timestamp.Usec != 250000 || h.Timestamp.Time().Unix() != 1700000000 {
		t.Fatalf("timestamp %+v", h.Timestamp)
	}
	if h.Sub.PhysBase != 0x6800000 || h.Sub.DumpLevel != 31 || f.DumpLevel() != 31 || h.Sub.MaxMapnr64 != 64 {
		t.Fatalf("sub header %+v", h.Sub)
	}
	if string(f.VMCOREINFO()) != string(s.vmcoreinfo) || !bytes.Equal(f.Notes(), s.notes) {
		t.Fatal("VMCOREINFO or notes differ")
	}
	f.VMCOREINFO()[0] = 'X' // a copy: the file's own stays intact
	if f.VMCOREINFO()[0] != 'O' {
		t.Fatal("VMCOREINFO returned internal storage")
	}
	if f.Incomplete() || f.Truncated() || len(f.Warnings()) != 0 {
		t.Fatalf("incomplete=%v truncated=%v warnings=%v", f.Incomplete(), f.Truncated(), f.Warnings())
	}
	want := []phys.Range{{Start: 0, End: 7 * bs}, {Start: 20 * bs, End: 23 * bs}, {Start: 63 * bs, End: 64 * bs}}
	if got := f.Ranges(); !equalRanges(got, want) {
		t.Fatalf("Ranges = %v, want %v", got, want)
	}
}

func equalRanges(a, b []phys.Range) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNoVMCOREINFO(t *testing.T) {
	s := mixed()
	s.vmcoreinfo, s.notes = nil, nil
	f := openBytes(t, build(s))
	if f.VMCOREINFO() != nil || f.Notes() != nil {
		t.Fatal("absent VMCOREINFO/notes should be nil")
	}
}

func TestHeaderVersion5UsesMaxMapnr32(t *testing.T) {
	s := mixed()
	s.version = 5
	b := build(s)
	// A v5 sub header has no max_mapnr_64: garbage there must be ignored.
	binary.LittleEndian.PutUint64(b[bs+96:], 1<<40)
	f := openBytes(t, b)
	if f.Header().MaxMapnr != 64 || f.Header().Sub.MaxMapnr64 != 0 {
		t.Fatalf("MaxMapnr = %d", f.Header().MaxMapnr)
	}
	if err := f.ReadPhys(make([]byte, 8), 63*bs); err != nil {
		t.Fatal(err)
	}
}

func TestMaxMapnr64BeyondBitmap(t *testing.T) {
	// max_mapnr_64 larger than the bitmap: pfns past the bitmap are absent.
	s := mixed()
	b := build(s)
	binary.LittleEndian.PutUint64(b[bs+96:], 1<<50)
	f := openBytes(t, b)
	if f.Header().MaxMapnr != 1<<50 {
		t.Fatalf("MaxMapnr = %#x", f.Header().MaxMapnr)
	}
	missing(t, f.ReadPhys(make([]byte, 8), 1<<20*bs), 1<<20*bs, phys.NotInDump)
	if err := f.ReadPhys(make([]byte, 8), 63*bs); err != nil {
		t.Fatal(err)
	}
}

func TestTruncatedFile(t *testing.T) {
	s := mixed()
	full := build(s)
	f := openBytes(t, full)
	lastDesc := f.descBase + int64(len(s.pages))*descSize
	// Cut inside the page data: the last page (pfn 63) loses its tail.
	cut := full[:len(full)-10]
	f = openBytes(t, cut)
	if !f.Truncated() {
		t.Fatal("Truncated() false")
	}
	missing(t, f.ReadPhys(make([]byte, 8), 63*bs+8), 63*bs+8, phys.BeyondEnd)
	if err := f.ReadPhys(make([]byte, 8), 0); err != nil {
		t.Fatalf("early page of a truncated file: %v", err)
	}
	// Cut inside the descriptor array: pages whose descriptor is gone.
	cut = full[:lastDesc-descSize-5]
	f = openBytes(t, cut)
	missing(t, f.ReadPhys(make([]byte, 8), 22*bs), 22*bs, phys.BeyondEnd)
	missing(t, f.ReadPhys(make([]byte, 8), 63*bs), 63*bs, phys.BeyondEnd)
	// The data of pfn 0 is gone too (it follows the descriptors).
	missing(t, f.ReadPhys(make([]byte, 8), 0), 0, phys.BeyondEnd)
	// The descriptors that remain still name the encodings.
	if c := f.Compression(); c != "zlib+lzo+snappy+zstd+none" {
		t.Errorf("Compression of a cut file = %q", c)
	}
	// Cut inside the bitmaps: the headers still open; no page is readable.
	fb, err := Open(bytes.NewReader(full[:int(f.descBase)-1]), f.descBase-1)
	if err != nil {
		t.Fatalf("Open of a file cut inside its bitmaps: %v", err)
	}
	if c, ok := fb.Cut(); !ok || c.HasFirst || c.NeedAtLeast != f.descBase || c.FileSize != f.descBase-1 {
		t.Errorf("Cut of a file cut inside its bitmaps = %+v, %v", c, ok)
	}
	if fb.Header().UTSName.Release != s.release || len(fb.VMCOREINFO()) == 0 {
		t.Errorf("headers of a file cut inside its bitmaps: %q, %d bytes of VMCOREINFO", fb.Header().UTSName.Release, len(fb.VMCOREINFO()))
	}
	missing(t, fb.ReadPhys(make([]byte, 8), 0), 0, phys.BeyondEnd)
	if r := fb.Ranges(); len(r) != 0 {
		t.Errorf("Ranges of a file cut inside its bitmaps: %v", r)
	}
	// The reader returns less than the size it was opened with.
	short := &shortReaderAt{full[:len(full)-10]}
	f2, err := Open(short, int64(len(full)))
	if err != nil {
		t.Fatal(err)
	}
	missing(t, f2.ReadPhys(make([]byte, 8), 63*bs), 63*bs, phys.BeyondEnd)
}

type shortReaderAt struct{ b []byte }

func (s *shortReaderAt) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(s.b).ReadAt(p, off)
}

func TestIncompleteZeroDescriptors(t *testing.T) {
	s := mixed()
	s.status |= StatusIncomplete
	for i := range s.pages {
		if s.pages[i].pfn >= 20 {
			s.pages[i].zeroDesc = true
		}
	}
	f := openBytes(t, build(s))
	if !f.Incomplete() {
		t.Fatal("Incomplete() false")
	}
	missing(t, f.ReadPhys(make([]byte, 8), 21*bs), 21*bs, phys.BeyondEnd)
	if err := f.ReadPhys(make([]byte, 8), 6*bs); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptPages(t *testing.T) {
	u32 := func(v uint32) *uint32 { return &v }
	half := content(bs/2, 9)
	cases := []struct {
		name string
		p    tpage
	}{
		{"zlib garbage", tpage{enc: methodZlib, raw: []byte("this is not zlib data at all")}},
		{"zlib short", tpage{enc: methodZlib, raw: encodePage(methodZlib, half)}},
		{"zlib long", tpage{enc: methodZlib, raw: encodePage(methodZlib, append(content(bs, 9), 1))}},
		{"zlib bad checksum", tpage{enc: methodZlib, raw: func() []byte {
			b := encodePage(methodZlib, content(bs, 9))
			b[len(b)-1] ^= 0xff
			return b
		}()}},
		{"snappy garbage", tpage{enc: methodSnappy, raw: []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2}}},
		{"snappy short", tpage{enc: methodSnappy, raw: encodePage(methodSnappy, half)}},
		{"zstd garbage", tpage{enc: methodZstd, raw: []byte("(\xb5/\xfd garbage garbage")}},
		{"zstd short", tpage{enc: methodZstd, raw: encodePage(methodZstd, half)}},
		{"lzo garbage", tpage{enc: methodLZO, raw: []byte{0x11, 0x22, 0x33}}},
		{"lzo short", tpage{enc: methodLZO, raw: lzoRepeat(periodic(bs/2, 1))}},
		{"lzo long", tpage{enc: methodLZO, raw: lzoRepeat(periodic(bs+64, 1))}},
		{"raw short", tpage{enc: methodNone, raw: half}},
		{"size above block", tpage{enc: methodZlib, raw: make([]byte, bs+1)}},
		{"unknown flag only", tpage{raw: half, flags: u32(0x40)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mixed()
			c.p.pfn = 9
			s.pages = append(s.pages, c.p)
			f := openBytes(t, build(s))
			err := f.ReadPhys(make([]byte, 8), 9*bs+8)
			if !errors.Is(err, ErrCorruptPage) || phys.IsMissing(err) {
				t.Fatalf("err = %v, want ErrCorruptPage", err)
			}
			if !strings.Contains(err.Error(), "0x9008") {
				t.Errorf("error does not name the address: %v", err)
			}
			// Neighbours still read.
			if err := f.ReadPhys(make([]byte, 8), 6*bs); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNegativeDescriptorOffset(t *testing.T) {
	s := mixed()
	b := build(s)
	f := openBytes(t, b)
	binary.LittleEndian.PutUint64(b[f.descBase:], uint64(1<<63)) // pfn 0
	f = openBytes(t, b)
	if err := f.ReadPhys(make([]byte, 8), 0); !errors.Is(err, ErrCorruptPage) {
		t.Fatalf("err = %v", err)
	}
}

func TestNotDiskdump(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("KDUM"), []byte("\x7fELF\x02\x01\x01\x00"), bytes.Repeat([]byte{0}, 4096)} {
		if _, err := Open(bytes.NewReader(b), int64(len(b))); !errors.Is(err, ErrNotDiskdump) {
			t.Errorf("%q: %v", b[:min(8, len(b))], err)
		}
	}
}

func TestHostileHeaders(t *testing.T) {
	le := binary.LittleEndian
	base := build(mixed())
	mut := func(name string, f func(b []byte) []byte) {
		t.Run(name, func(t *testing.T) {
			b := f(bytes.Clone(base))
			if _, err := Open(bytes.NewReader(b), int64(len(b))); err == nil || errors.Is(err, ErrNotDiskdump) {
				t.Fatalf("err = %v, want a header error", err)
			}
		})
	}
	mut("short", func(b []byte) []byte { return b[:300] })
	mut("block size 0", func(b []byte) []byte { le.PutUint32(b[428:], 0); return b })
	mut("block size 3000", func(b []byte) []byte { le.PutUint32(b[428:], 3000); return b })
	mut("block size 1<<30", func(b []byte) []byte { le.PutUint32(b[428:], 1<<30); return b })
	mut("big endian", func(b []byte) []byte { binary.BigEndian.PutUint32(b[428:], 4096); return b })
	mut("negative version", func(b []byte) []byte { le.PutUint32(b[8:], 0xffffffff); return b })
	mut("sub_hdr_size 0", func(b []byte) []byte { le.PutUint32(b[432:], 0); return b })
	mut("sub_hdr_size huge", func(b []byte) []byte { le.PutUint32(b[432:], 0x7fffffff); return b })
	mut("negative sub_hdr_size", func(b []byte) []byte { le.PutUint32(b[432:], 0x80000000); return b })
	mut("bitmap_blocks huge", func(b []byte) []byte { le.PutUint32(b[436:], 0xffffffff); return b })
	mut("bitmap_blocks 0", func(b []byte) []byte { le.PutUint32(b[436:], 0); return b })
	mut("cut in sub header", func(b []byte) []byte { return b[:bs+50] })

	// Blob fields that point outside the file are ignored with a warning.
	b := bytes.Clone(base)
	le.PutUint64(b[bs+32:], 1<<60) // offset_vmcoreinfo
	le.PutUint64(b[bs+56:], 1<<62) // size_note
	f := openBytes(t, b)
	if f.VMCOREINFO() != nil || f.Notes() != nil || len(f.Warnings()) != 2 {
		t.Fatalf("VMCOREINFO=%q notes=%d warnings=%v", f.VMCOREINFO(), len(f.Notes()), f.Warnings())
	}
	// A huge nr_cpus or max_mapnr_32 allocates nothing.
	b = bytes.Clone(base)
	le.PutUint32(b[460:], 0x7fffffff)
	le.PutUint32(b[440:], 0xffffffff)
	openBytes(t, b)
}

func TestSplitDump(t *testing.T) {
	// The second part of a makedumpfile --split dump: pfns [32, 48).
	s := tspec{
		status: StatusCompressedZlib, maxMapnr: 64, split: true, start: 32, end: 48, dumpLevel: 1,
		ram: []uint64{1, 2, 33, 50},
		pages: []tpage{
			{pfn: 32, data: content(bs, 32), enc: methodZlib},
			{pfn: 40, data: content(bs, 40), enc: methodNone},
			{pfn: 47, data: content(bs, 47), enc: methodZlib},
		},
	}
	f := openBytes(t, build(s))
	for _, p := range s.pages {
		got := make([]byte, bs)
		if err := f.ReadPhys(got, p.pfn*bs); err != nil || !bytes.Equal(got, p.data) {
			t.Fatalf("pfn %d: %v", p.pfn, err)
		}
	}
	missing(t, f.ReadPhys(make([]byte, 1), 33*bs), 33*bs, phys.Excluded)
	missing(t, f.ReadPhys(make([]byte, 1), 2*bs), 2*bs, phys.NotInDump) // another part's page
	missing(t, f.ReadPhys(make([]byte, 1), 50*bs), 50*bs, phys.NotInDump)
	want := []phys.Range{{Start: 32 * bs, End: 33 * bs}, {Start: 40 * bs, End: 41 * bs}, {Start: 47 * bs, End: 48 * bs}}
	if got := f.Ranges(); !equalRanges(got, want) {
		t.Fatalf("Ranges = %v", got)
	}
}

func TestDiskdumpSignatureSingleBitmap(t *testing.T) {
	s := tspec{
		sig: sigDiskdump, version: 1, status: 0, maxMapnr: 100, singleMap: true,
		pages: []tpage{{pfn: 3, data: content(bs, 3), enc: methodNone}, {pfn: 99, data: content(bs, 99), enc: methodZlib}},
	}
	f := openBytes(t, build(s))
	got := make([]byte, bs)
	if err := f.ReadPhys(got, 99*bs); err != nil || !bytes.Equal(got, s.pages[1].data) {
		t.Fatalf("pfn 99: %v", err)
	}
	missing(t, f.ReadPhys(got, 4*bs), 4*bs, phys.NotInDump)
	if f.DumpLevel() != -1 || f.VMCOREINFO() != nil {
		t.Fatalf("DumpLevel = %d", f.DumpLevel())
	}
	if c := f.Compression(); c != "zlib+none" {
		t.Fatalf("Compression = %q", c)
	}
}

func TestSmallBlockSize(t *testing.T) {
	const small = 1024
	s := tspec{
		blockSize: small, status: StatusCompressedZstd, maxMapnr: 5000,
		pages: []tpage{
			{pfn: 0, data: content(small, 0), enc: methodZstd},
			{pfn: 1, data: content(small, 1), enc: methodZstd},
			{pfn: 4999, data: content(small, 4999), enc: methodNone},
		},
		ram: []uint64{2},
	}
	f := openBytes(t, build(s))
	got := make([]byte, 2*small)
	if err := f.ReadPhys(got, 0); err != nil || !bytes.Equal(got, append(content(small, 0), content(small, 1)...)) {
		t.Fatalf("read: %v", err)
	}
	missing(t, f.ReadPhys(got, small+1), 2*small, phys.Excluded)
	if err := f.ReadPhys(got[:small], 4999*small); err != nil {
		t.Fatal(err)
	}
	if c := f.Compression(); c != "zstd+none" {
		t.Fatalf("Compression = %q", c)
	}
}

func TestNoCompressionFlags(t *testing.T) {
	s := tspec{maxMapnr: 8, pages: []tpage{{pfn: 1, data: content(bs, 1), enc: methodNone}}}
	if c := openBytes(t, build(s)).Compression(); c != "none" {
		t.Fatalf("Compression = %q", c)
	}
}

func TestRangesLarge(t *testing.T) {
	// Runs crossing word boundaries and full words, checked against a
	// bit-by-bit reference.
	rng := rand.New(rand.NewSource(3))
	const n = 3000
	var pages []tpage
	var ram []uint64
	on := false
	for pfn := uint64(0); pfn < n; pfn++ {
		if rng.Intn(40) == 0 {
			on = !on
		}
		switch {
		case on && rng.Intn(50) != 0:
			pages = append(pages, tpage{pfn: pfn, data: make([]byte, bs), enc: methodNone})
		case rng.Intn(2) == 0:
			ram = append(ram, pfn)
		}
	}
	f := openBytes(t, build(tspec{maxMapnr: n, pages: pages, ram: ram}))
	var want []phys.Range
	for _, p := range pages {
		if k := len(want) - 1; k >= 0 && want[k].End == p.pfn*bs {
			want[k].End += bs
			continue
		}
		want = append(want, phys.Range{Start: p.pfn * bs, End: (p.pfn + 1) * bs})
	}
	if got := f.Ranges(); !equalRanges(got, want) {
		t.Fatalf("Ranges: %d ranges, want %d", len(got), len(want))
	}
	// The rank index agrees with counting.
	for i, p := range pages {
		if r, err := f.dumped.rank(p.pfn); err != nil || r != uint64(i) {
			t.Fatalf("rank(%d) = %d, %v, want %d", p.pfn, r, err, i)
		}
	}
}

func TestConcurrentReads(t *testing.T) {
	s := mixed()
	f := openBytes(t, build(s))
	f.cache = phys.NewPageCache(3) // force evictions and re-decoding
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			buf := make([]byte, bs)
			for i := 0; i < 300; i++ {
				p := s.pages[rng.Intn(len(s.pages))]
				if err := f.ReadPhys(buf, p.pfn*bs); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(buf, p.data) {
					errs <- errors.New("content differs under concurrency")
					return
				}
			}
		}(int64(g))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func FuzzOpen(f *testing.F) {
	// Small seeds (512-byte blocks) keep the fuzzer fast.
	const sb = 512
	small := tspec{
		blockSize: sb, status: StatusCompressedZlib, maxMapnr: 40, dumpLevel: 31,
		vmcoreinfo: []byte("OSRELEASE=x\n"), notes: []byte("nnnn"), ram: []uint64{6, 7, 30},
		pages: []tpage{
			{pfn: 0, data: content(sb, 0), enc: methodZlib},
			{pfn: 1, data: content(sb, 1), enc: methodSnappy},
			{pfn: 2, data: content(sb, 2), enc: methodZstd},
			{pfn: 3, data: periodic(sb, 3), enc: methodLZO},
			{pfn: 4, data: content(sb, 4), enc: methodNone},
			{pfn: 31, data: content(sb, 31), enc: methodZlib},
		},
	}
	f.Add(build(small))
	small.status |= StatusIncomplete
	small.pages[5].zeroDesc = true
	small.split, small.start, small.end = true, 1, 32
	f.Add(build(small))
	f.Add(build(tspec{sig: sigDiskdump, blockSize: sb, maxMapnr: 9, singleMap: true, pages: []tpage{{pfn: 8, data: periodic(sb, 8), enc: methodLZO}}}))
	f.Add(build(tspec{maxMapnr: 9, pages: []tpage{{pfn: 1, data: content(bs, 1), enc: methodZlib}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		d.Header()
		d.VMCOREINFO()
		d.Notes()
		d.Compression()
		buf := make([]byte, 64)
		read := func(addr uint64) {
			err := d.ReadPhys(buf, addr)
			var me *phys.MissingError
			if err != nil && errors.As(err, &me) && (me.Addr < addr || me.Addr >= addr+uint64(len(buf))) {
				t.Fatalf("MissingError.Addr %#x outside the read at %#x", me.Addr, addr)
			}
		}
		rs := d.Ranges()
		for i, r := range rs {
			if i >= 8 {
				break
			}
			if r.End <= r.Start || (i > 0 && r.Start <= rs[i-1].End-1) {
				t.Fatalf("bad ranges %v", rs[:i+1])
			}
			read(r.Start)
			read(r.End - 32) // crosses into what follows
			if err := d.ReadPhys(buf[:1], r.Start); phys.IsMissing(err) {
				var me *phys.MissingError
				errors.As(err, &me)
				if me.Reason != phys.BeyondEnd {
					t.Fatalf("start of a dumped range is %v", me.Reason)
				}
			}
		}
		for pfn := uint64(0); pfn < 4; pfn++ {
			read(pfn*uint64(d.BlockSize()) + 7)
		}
	})
}

// A bulk read (at least bulkRead bytes) decodes whole pages straight into
// the caller's buffer: the same bytes as page by page, every encoding, the
// page cache left as it was, and an absent page reported at its address.
func TestBulkReadBypassesCache(t *testing.T) {
	const n = 40 // pages 0..39 dumped, 40..47 excluded
	s := tspec{status: StatusCompressedZlib, maxMapnr: 64, dumpLevel: 31}
	encs := []method{methodZlib, methodLZO, methodSnappy, methodZstd, methodNone}
	for pfn := uint64(0); pfn < n; pfn++ {
		enc := encs[pfn%uint64(len(encs))]
		data := periodic(bs, byte(pfn)) // compressible
		if enc == methodNone {
			data = content(bs, pfn)
		}
		s.pages = append(s.pages, tpage{pfn: pfn, data: data, enc: enc})
	}
	for pfn := uint64(n); pfn < n+8; pfn++ {
		s.ram = append(s.ram, pfn)
	}
	f := openBytes(t, build(s))
	var want []byte
	for _, p := range s.pages {
		want = append(want, p.data...)
	}
	// Cache pfn 5 first: a bulk read still returns it.
	small := make([]byte, 8)
	if err := f.ReadPhys(small, 5*bs+8); err != nil {
		t.Fatal(err)
	}
	cached := f.cache.Len()
	got := make([]byte, n*bs-100) // starts mid-page: a partial page, then whole ones
	if err := f.ReadPhys(got, 100); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want[100:]) {
		t.Fatal("bulk read differs from the pages")
	}
	if f.cache.Len() > cached+1 { // the first, partial page goes through the cache
		t.Fatalf("bulk read cached %d pages", f.cache.Len()-cached)
	}
	err := f.ReadPhys(make([]byte, 32*bs), 20*bs)
	missing(t, err, n*bs, phys.Excluded)
}
