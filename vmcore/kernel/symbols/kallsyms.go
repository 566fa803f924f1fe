package symbols

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// Limits on what a kallsyms table may claim. Real kernels have ~100-200k
// symbols and a kallsyms_names of 1-3 MiB.
const (
	// MaxSyms bounds kallsyms_num_syms.
	MaxSyms = 2_000_000
	// maxNamesBytes bounds the compressed kallsyms_names stream.
	maxNamesBytes = 64 << 20
	// maxNameLen bounds one decoded name; KSYM_NAME_LEN is 512 since 6.1
	// (128 before).
	maxNameLen = 1024
	// maxTokenLen bounds one kallsyms_token_table entry.
	maxTokenLen = 1024
)

// ErrNoKallsyms means VMCOREINFO does not locate the kallsyms tables: the
// kernel predates 6.0 (commits 5fd8fea935a1 "vmcoreinfo: include kallsyms
// symbols" and f09bddbd8661 "vmcoreinfo: add kallsyms_num_syms symbol") or was
// built without CONFIG_KALLSYMS. ScanKallsyms can still find them.
var ErrNoKallsyms = errors.New("symbols: VMCOREINFO does not locate the kallsyms tables (Linux < 6.0?)")

// addrEncoding is how kallsyms_sym_address() (kernel/kallsyms.c) turns an
// index into an address; every form the kernel has used.
type addrEncoding int

const (
	// encAbsolute: kallsyms_addresses[i], unsigned long
	// (!CONFIG_KALLSYMS_BASE_RELATIVE, removed in 6.11).
	encAbsolute addrEncoding = iota
	// encRelative: kallsyms_relative_base + (u32)kallsyms_offsets[i]
	// (CONFIG_KALLSYMS_BASE_RELATIVE without ABSOLUTE_PERCPU).
	encRelative
	// encAbsPercpu: CONFIG_KALLSYMS_ABSOLUTE_PERCPU: offset >= 0 is the
	// absolute value (a per-CPU offset), negative is
	// kallsyms_relative_base - 1 - offset.
	encAbsPercpu
	// encPlaceRelative: offset_to_ptr(&kallsyms_offsets[i]), i.e. the
	// entry's own address plus the signed offset ("kallsyms: Get rid of
	// kallsyms relative base"; VMCOREINFO then has no kallsyms_relative_base).
	encPlaceRelative
)

func (e addrEncoding) String() string {
	switch e {
	case encAbsolute:
		return "absolute (kallsyms_addresses)"
	case encRelative:
		return "base-relative (kallsyms_offsets + kallsyms_relative_base)"
	case encAbsPercpu:
		return "base-relative with absolute per-CPU (CONFIG_KALLSYMS_ABSOLUTE_PERCPU)"
	case encPlaceRelative:
		return "place-relative (kallsyms_offsets)"
	}
	return "unknown"
}

// addrTable is kallsyms_addresses or kallsyms_offsets as read, with the
// encoding that turns entry i into an address (kallsyms_sym_address() in
// kernel/kallsyms.c): decoded on each access rather than into 150k
// uint64s.
type addrTable struct {
	enc         addrEncoding
	raw         []byte // u64 entries for encAbsolute, else u32
	n           int
	base        uint64 // kallsyms_relative_base
	offsetsAddr uint64 // address of kallsyms_offsets (encPlaceRelative)
}

func (t *addrTable) at(i int) uint64 {
	if t.enc == encAbsolute {
		return binary.LittleEndian.Uint64(t.raw[8*i:])
	}
	v := binary.LittleEndian.Uint32(t.raw[4*i:])
	switch t.enc {
	case encRelative:
		return t.base + uint64(v)
	case encAbsPercpu:
		if int32(v) >= 0 {
			return uint64(v)
		}
		return t.base - 1 - uint64(int64(int32(v)))
	}
	return t.offsetsAddr + uint64(4*i) + uint64(int64(int32(v))) // encPlaceRelative
}

func (t *addrTable) sorted() bool {
	prev := uint64(0)
	for i := range t.n {
		a := t.at(i)
		if a < prev {
			return false
		}
		prev = a
	}
	return true
}

func anyNegative(raw []byte, n int) bool {
	for i := range n {
		if int32(binary.LittleEndian.Uint32(raw[4*i:])) < 0 {
			return true
		}
	}
	return false
}

// tokens is kallsyms_token_table split by kallsyms_token_index.
type tokens [256][]byte

// parseTokens reads the 256 u16 kallsyms_token_index entries in index and the
// NUL-terminated strings they point to in table.
func parseTokens(index, table []byte) (*tokens, error) {
	if len(index) < 512 {
		return nil, fmt.Errorf("kallsyms_token_index: %d bytes, want 512", len(index))
	}
	var t tokens
	for i := range 256 {
		off := int(binary.LittleEndian.Uint16(index[2*i:]))
		if off >= len(table) {
			return nil, fmt.Errorf("kallsyms_token_index[%d]=%d is past the token table (%d bytes)", i, off, len(table))
		}
		end := off
		for end < len(table) && table[end] != 0 {
			end++
		}
		if end == len(table) {
			return nil, fmt.Errorf("kallsyms token %d at %d is not NUL-terminated", i, off)
		}
		if end-off > maxTokenLen {
			return nil, fmt.Errorf("kallsyms token %d is %d bytes long", i, end-off)
		}
		t[i] = table[off:end]
	}
	return &t, nil
}

// tokenTableSize returns how many bytes of kallsyms_token_table the index
// references, up to the start of the last token (its end is found later).
func tokenIndexMax(index []byte) int {
	m := 0
	for i := range 256 {
		if v := int(binary.LittleEndian.Uint16(index[2*i:])); v > m {
			m = v
		}
	}
	return m
}

// byteSource hands out a growing prefix of a byte stream.
type byteSource interface {
	// avail returns the stream's bytes so far, at least n of them, or an
	// error when fewer exist.
	avail(n int) ([]byte, error)
}

type sliceSource []byte

func (s sliceSource) avail(n int) ([]byte, error) {
	if n > len(s) {
		return s, fmt.Errorf("kallsyms_names truncated at %d bytes", len(s))
	}
	return s, nil
}

// memStream reads kernel memory at base sequentially in chunks, so a table of
// unknown length is read with few large reads.
type memStream struct {
	r     vmem.Reader
	base  uint64
	buf   []byte
	limit int
	chunk int
	err   error // the fault that ended the stream
}

// newMemStream reads at most limit bytes at base; the first read is of
// expect bytes when that is in (0, limit], else 64 KiB, and reads double
// from there.
func newMemStream(r vmem.Reader, base uint64, limit, expect int) *memStream {
	if base+uint64(limit) < base { // wraps around the address space
		limit = int(-base)
	}
	chunk := 64 << 10
	if expect > 0 && expect <= limit {
		chunk = expect
	}
	return &memStream{r: r, base: base, limit: limit, chunk: chunk}
}

func (s *memStream) avail(n int) ([]byte, error) {
	for len(s.buf) < n {
		if s.err != nil {
			return s.buf, s.err
		}
		if n > s.limit {
			return s.buf, fmt.Errorf("table longer than %d bytes", s.limit)
		}
		want := s.chunk
		if len(s.buf)+want > s.limit {
			want = s.limit - len(s.buf)
		}
		if want < n-len(s.buf) {
			want = n - len(s.buf)
		}
		got, err := readPrefix(s.r, s.base+uint64(len(s.buf)), want, s.buf)
		s.buf = got
		if err != nil {
			s.err = err
		}
		s.chunk = min(2*s.chunk, 4<<20)
	}
	return s.buf, nil
}

// readPrefix appends the n bytes at addr to dst. When the whole read faults it
// retries page by page (and the faulting page in smaller pieces) and appends
// what precedes the first fault, returning that fault.
func readPrefix(r vmem.Reader, addr uint64, n int, dst []byte) ([]byte, error) {
	start := len(dst)
	dst = grow(dst, n)
	err := readParallel(r, dst[start:start+n], addr)
	if err == nil {
		return dst[:start+n], nil
	}
	done := 0
	for _, size := range []uint64{4096, 256, 16, 1} {
		for done < n {
			a := addr + uint64(done)
			step := int(size - a%size)
			if step > n-done {
				step = n - done
			}
			if e := r.ReadVirt(dst[start+done:start+done+step], a); e != nil {
				err = e
				break
			}
			done += step
		}
	}
	if done == n {
		return dst[:start+n], nil
	}
	return dst[:start+done], err
}

// readParallel fills buf from addr in a few page-aligned pieces read at
// once: the pages of a compressed dump are decompressed one by one, and
// kallsyms_names is hundreds of them. vmem.Readers are safe for concurrent
// use. The error is any piece's.
func readParallel(r vmem.Reader, buf []byte, addr uint64) error {
	const minPiece = 256 << 10
	n := min(runtime.GOMAXPROCS(0), 4, len(buf)/minPiece)
	if n <= 1 {
		return r.ReadVirt(buf, addr)
	}
	piece := (len(buf)/n + 4095) &^ 4095
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		lo, hi := i*piece, min((i+1)*piece, len(buf))
		if lo >= hi {
			break
		}
		wg.Go(func() { errs[i] = r.ReadVirt(buf[lo:hi], addr+uint64(lo)) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, 2*cap(b)+n)
	copy(nb, b)
	return nb
}

// readArray reads n bytes at addr in one go.
func readArray(r vmem.Reader, what string, addr uint64, n int) ([]byte, error) {
	if addr+uint64(n) < addr {
		return nil, fmt.Errorf("%s at %#x: %d bytes wrap around the address space", what, addr, n)
	}
	b := make([]byte, n)
	if err := readParallel(r, b, addr); err != nil {
		return nil, fmt.Errorf("reading %s (%d bytes at %#x): %w", what, n, addr, err)
	}
	return b, nil
}

// readTokens reads kallsyms_token_index and kallsyms_token_table.
func readTokens(r vmem.Reader, tableAddr, indexAddr uint64) (*tokens, error) {
	index, err := readArray(r, "kallsyms_token_index", indexAddr, 512)
	if err != nil {
		return nil, err
	}
	// The table ends with the NUL of its last token; read past the highest
	// index by the longest token allowed, keeping what precedes a fault.
	n := tokenIndexMax(index) + maxTokenLen + 1
	if tableAddr+uint64(n) < tableAddr {
		return nil, fmt.Errorf("kallsyms_token_table at %#x wraps around the address space", tableAddr)
	}
	table, rerr := readPrefix(r, tableAddr, n, nil)
	t, err := parseTokens(index, table)
	if err != nil {
		if rerr != nil {
			return nil, fmt.Errorf("%w (table read stopped: %v)", err, rerr)
		}
		return nil, err
	}
	return t, nil
}

// decoded is the result of walking kallsyms_names once: each symbol's type
// letter and the hash of its name. Names stay compressed (names) and are
// expanded again when asked for, so a table of 150k symbols holds the 1.5
// MiB stream instead of 3 MiB of names.
type decoded struct {
	names   *kallsymsNames
	types   []byte   // type letter of each symbol
	hashes  []uint32 // maphash of each name with seed
	seed    maphash.Seed
	markers []uint32 // offset of every 256th entry, as kallsyms_markers
	end     int      // offset just past the last entry
}

// kallsymsNames is a checked kallsyms_names stream: every entry is known to
// lie inside it and to expand within maxNameLen to a type letter and a name.
type kallsymsNames struct {
	stream  []byte
	tok     *tokens
	long    bool
	markers []uint32 // offset of entries 0, 256, 512, ...
}

// entry is the offset of entry i's length byte: from the marker before it,
// skipping at most 255 entries, as kallsyms_lookup_name() does.
func (k *kallsymsNames) entry(i int) int {
	pos := int(k.markers[i>>8])
	for j := i &^ 0xFF; j < i; j++ {
		l, hdr := k.header(pos)
		pos += hdr + l
	}
	return pos
}

func (k *kallsymsNames) header(pos int) (l, hdr int) {
	l, hdr = int(k.stream[pos]), 1
	if l&0x80 != 0 && k.long {
		l, hdr = l&0x7F|int(k.stream[pos+1])<<7, 2
	}
	return l, hdr
}

// appendName appends symbol i's name (its expansion without the type
// letter) to dst.
func (k *kallsymsNames) appendName(dst []byte, i int) []byte {
	pos := k.entry(i)
	l, hdr := k.header(pos)
	start := len(dst)
	for _, b := range k.stream[pos+hdr : pos+hdr+l] {
		dst = append(dst, k.tok[b]...)
	}
	return append(dst[:start], dst[start+1:]...)
}

// nameIs reports whether symbol i is called name.
func (k *kallsymsNames) nameIs(i int, name string) bool {
	var buf [maxNameLen + 1]byte
	return string(k.appendName(buf[:0], i)) == name
}

// shortToken is the longest token copied as a fixed-size array (almost all
// are shorter: scripts/kallsyms.c builds them from pairs of pairs).
const shortToken = 16

// decodeNames walks n entries of kallsyms_names as kallsyms_expand_symbol()
// does: a length (one byte, or since 6.1 two when the first has bit 7 set:
// "kallsyms: support "big" kernel symbols"), then that many token indices;
// the first character of the expansion is the type.
//
// sizeHint is the expected length of the stream (0 if unknown), used to size
// buffers.
func decodeNames(src byteSource, n int, tok *tokens, long bool, sizeHint int) (*decoded, error) {
	if n <= 0 || n > MaxSyms {
		return nil, fmt.Errorf("kallsyms_num_syms=%d out of range", n)
	}
	// Each token padded to shortToken bytes: one fixed-size copy per token
	// instead of a call to copy.
	var short [256][shortToken]byte
	var toklen [256]int
	for i, t := range tok {
		copy(short[i][:], t)
		toklen[i] = len(t)
	}
	// Grow rather than trust n for the allocation: a false candidate of the
	// scan, or a hostile table, fails long before n entries.
	c := min(n, 1<<16)
	d := &decoded{
		types:   make([]byte, 0, c),
		hashes:  make([]uint32, 0, c),
		seed:    maphash.MakeSeed(),
		markers: make([]uint32, 0, (c+255)/256),
	}
	// One expansion at a time: at most maxNameLen+1 bytes plus the padding
	// of its last token.
	var scratch [maxNameLen + 1 + shortToken]byte
	var buf []byte
	var err error
	pos := 0
	for i := range n {
		if i&0xFF == 0 {
			d.markers = append(d.markers, uint32(pos))
		}
		if pos+1 > len(buf) {
			if buf, err = src.avail(pos + 1); err != nil {
				return nil, fmt.Errorf("kallsyms_names entry %d at offset %d: %w", i, pos, err)
			}
		}
		l := int(buf[pos])
		hdr := 1
		if l&0x80 != 0 && long {
			if pos+2 > len(buf) {
				if buf, err = src.avail(pos + 2); err != nil {
					return nil, fmt.Errorf("kallsyms_names entry %d at offset %d: %w", i, pos, err)
				}
			}
			l = l&0x7F | int(buf[pos+1])<<7
			hdr = 2
		}
		if l == 0 {
			return nil, fmt.Errorf("kallsyms_names entry %d at offset %d has length 0", i, pos)
		}
		end := pos + hdr + l
		if end > len(buf) {
			if buf, err = src.avail(end); err != nil {
				return nil, fmt.Errorf("kallsyms_names entry %d at offset %d: %w", i, pos, err)
			}
		}
		w := 0
		for _, b := range buf[pos+hdr : end] {
			tl := toklen[b]
			if w+tl > maxNameLen+1 {
				return nil, fmt.Errorf("kallsyms_names entry %d at offset %d expands past %d bytes", i, pos, maxNameLen)
			}
			if tl <= shortToken {
				*(*[shortToken]byte)(scratch[w : w+shortToken]) = short[b]
			} else {
				copy(scratch[w:], tok[b])
			}
			w += tl
		}
		if w < 2 {
			return nil, fmt.Errorf("kallsyms_names entry %d at offset %d expands to %q: no name", i, pos, scratch[:w])
		}
		typ := scratch[0]
		if !isLetter(typ) {
			return nil, fmt.Errorf("kallsyms_names entry %d at offset %d: type %q is not a letter", i, pos, typ)
		}
		d.types = append(d.types, typ)
		d.hashes = append(d.hashes, uint32(maphash.Bytes(d.seed, scratch[1:w])))
		pos = end
	}
	d.names = &kallsymsNames{stream: buf[:pos:pos], tok: tok, long: long, markers: d.markers}
	d.end = pos
	return d, nil
}

// find is the index of the first symbol called name, or -1.
func (d *decoded) find(name string) int {
	h := uint32(maphash.String(d.seed, name))
	for i, x := range d.hashes {
		if x == h && d.names.nameIs(i, name) {
			return i
		}
	}
	return -1
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// bigSymbolsRelease reports whether a kernel release has two-byte
// kallsyms_names lengths (73bbb94466fd "kallsyms: support "big" kernel
// symbols", Linux 6.1). Unparseable releases are assumed new.
func bigSymbolsRelease(release string) bool {
	major, rest, ok := strings.Cut(release, ".")
	if !ok {
		return true
	}
	minor := rest
	if i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = rest[:i]
	}
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return true
	}
	return ma > 6 || ma == 6 && mi >= 1
}

// kallsymsLoc is where the tables are.
type kallsymsLoc struct {
	numSyms    int
	names      uint64
	tokenTable uint64
	tokenIndex uint64
	addresses  uint64 // kallsyms_addresses, or 0
	offsets    uint64 // kallsyms_offsets, or 0
	relBase    uint64 // kallsyms_relative_base, or 0
	long       bool
}

// FromKallsyms builds the vmlinux symbol table from the kernel's kallsyms
// tables, located by the SYMBOL(kallsyms_*) lines of VMCOREINFO (Linux >= 6.0,
// crash_save_vmcoreinfo_init()). The address encoding follows from which
// symbols are present and is confirmed by SYMBOL(_stext).
func FromKallsyms(mem vmem.Reader, info *vmcoreinfo.Info) (*Table, error) {
	var loc kallsymsLoc
	var missing []string
	get := func(name string) uint64 {
		v, err := info.Symbol(name)
		if err != nil {
			missing = append(missing, name)
			return 0
		}
		return v
	}
	numAddr := get("kallsyms_num_syms")
	loc.names = get("kallsyms_names")
	loc.tokenTable = get("kallsyms_token_table")
	loc.tokenIndex = get("kallsyms_token_index")
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: no SYMBOL(%s)", ErrNoKallsyms, strings.Join(missing, "), SYMBOL("))
	}
	loc.addresses, _ = info.Symbol("kallsyms_addresses")
	loc.offsets, _ = info.Symbol("kallsyms_offsets")
	loc.relBase, _ = info.Symbol("kallsyms_relative_base")
	if loc.addresses == 0 && loc.offsets == 0 {
		return nil, fmt.Errorf("%w: neither SYMBOL(kallsyms_addresses) nor SYMBOL(kallsyms_offsets)", ErrNoKallsyms)
	}
	n, err := vmem.ReadU32(mem, numAddr)
	if err != nil {
		return nil, fmt.Errorf("symbols: reading kallsyms_num_syms: %w", err)
	}
	if n == 0 || n > MaxSyms {
		return nil, fmt.Errorf("symbols: kallsyms_num_syms=%d out of range (1..%d)", n, MaxSyms)
	}
	loc.numSyms = int(n)
	loc.long = bigSymbolsRelease(info.OSRelease())

	tok, err := readTokens(mem, loc.tokenTable, loc.tokenIndex)
	if err != nil {
		return nil, fmt.Errorf("symbols: %w", err)
	}
	// Every layout scripts/kallsyms.c has written puts kallsyms_names
	// before kallsyms_token_table, so the gap bounds the first read.
	expect := 0
	if loc.tokenTable > loc.names && loc.tokenTable-loc.names <= maxNamesBytes {
		expect = int(loc.tokenTable - loc.names)
	}
	d, err := decodeNames(newMemStream(mem, loc.names, maxNamesBytes, expect), loc.numSyms, tok, loc.long, expect)
	if err != nil {
		return nil, fmt.Errorf("symbols: %w", err)
	}
	stext, stextErr := info.Symbol("_stext")
	want := map[string]uint64{}
	if stextErr == nil {
		want["_stext"] = stext
	}
	addrs, err := loc.addrs(mem, d, want)
	if err != nil {
		return nil, fmt.Errorf("symbols: %w", err)
	}
	return buildKallsymsTable(SourceKallsyms, d, addrs), nil
}

// addrs reads the address table and picks the encoding that gives each
// symbol in want its address (and, lacking those, a sorted table).
func (loc *kallsymsLoc) addrs(mem vmem.Reader, d *decoded, want map[string]uint64) (*addrTable, error) {
	n := loc.numSyms
	var raw []byte
	var err error
	var cands []addrEncoding
	var base uint64
	switch {
	case loc.addresses != 0:
		raw, err = readArray(mem, "kallsyms_addresses", loc.addresses, 8*n)
		cands = []addrEncoding{encAbsolute}
	case loc.relBase != 0:
		if base, err = vmem.ReadU64(mem, loc.relBase); err != nil {
			return nil, fmt.Errorf("reading kallsyms_relative_base: %w", err)
		}
		raw, err = readArray(mem, "kallsyms_offsets", loc.offsets, 4*n)
		cands = []addrEncoding{encAbsPercpu, encRelative}
	default:
		raw, err = readArray(mem, "kallsyms_offsets", loc.offsets, 4*n)
		cands = []addrEncoding{encPlaceRelative}
	}
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	for name := range want {
		idx[name] = d.find(name)
	}
	var tried []string
	for _, enc := range cands {
		if enc == encAbsPercpu && !anyNegative(raw, n) {
			// Every non-per-CPU symbol is stored negative in this form.
			tried = append(tried, enc.String()+": no negative offsets")
			continue
		}
		addrs := &addrTable{enc: enc, raw: raw, n: n, base: base, offsetsAddr: loc.offsets}
		ok := addrs.sorted()
		why := "not sorted by address"
		for name, w := range want {
			i := idx[name]
			if i < 0 {
				if name == "_stext" {
					ok, why = false, name+" not in kallsyms"
					break
				}
				continue // e.g. the kallsyms_* tables are not in kallsyms
			}
			if addrs.at(i) != w {
				ok, why = false, fmt.Sprintf("%s=%#x, VMCOREINFO says %#x", name, addrs.at(i), w)
				break
			}
		}
		if ok {
			return addrs, nil
		}
		tried = append(tried, enc.String()+": "+why)
	}
	return nil, fmt.Errorf("kallsyms addresses do not decode: %s", strings.Join(tried, "; "))
}

func buildKallsymsTable(src Source, d *decoded, addrs *addrTable) *Table {
	t := &Table{source: src, encoding: addrs.enc.String()}
	sets := []*symSet{{kallsyms: d.names, hashes: d.hashes, seed: d.seed, table: addrs, n: addrs.n, types: d.types}}
	t.sets.Store(&sets)
	return t
}
