package symbols

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// Scan limits.
const (
	// DefaultScanSize is how far past textStart ScanKallsyms looks when
	// textEnd is 0.
	DefaultScanSize = 64 << 20
	maxScanSize     = 256 << 20
	scanChunk       = 1 << 20
	// maxHole stops the forward scan after this much unmapped memory in a
	// row (the text/rodata gap freed by mark_rodata_ro() is < 2 MiB).
	maxHole = 16 << 20
	// maxNamesSpan is how far before kallsyms_token_table kallsyms_num_syms
	// may lie (kallsyms_names, markers and kallsyms_seqs_of_names between).
	maxNamesSpan = 32 << 20
)

// tokenSignature is kallsyms_token_table entries 0x30..0x39: scripts/kallsyms.c
// (insert_real_symbols_in_table()) keeps every character used in a symbol
// name as the one-character token of its own code, and the table is written
// in code order, so the digits appear as "0\0" "1\0" ... "9\0".
var tokenSignature = []byte("0\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00")

// ErrKallsymsNotFound means no valid kallsyms tables were found by scanning.
var ErrKallsymsNotFound = errors.New("symbols: kallsyms tables not found in kernel memory")

// ScanKallsyms finds the kallsyms tables by scanning kernel memory, for
// kernels whose VMCOREINFO does not locate them (< 6.0). textStart is the
// runtime _stext (VMCOREINFO SYMBOL(_stext)); 0 means the x86_64 default
// 0xffffffff81000000 plus kaslrOffset. The scan covers [textStart, textEnd),
// or DefaultScanSize bytes when textEnd is 0, skipping unmapped pages.
//
// kallsyms_token_table is found by its digit tokens, kallsyms_token_index
// after it is checked entry by entry against the table, kallsyms_num_syms and
// kallsyms_names are found before it and checked by decoding every name and
// comparing with kallsyms_markers, and the address table is accepted only if
// it is sorted and puts _stext at textStart.
func ScanKallsyms(mem vmem.Reader, textStart, textEnd uint64, kaslrOffset uint64) (*Table, error) {
	if textStart == 0 {
		textStart = defaultText + kaslrOffset
	}
	sc := &scanner{mem: mem, want: map[string]uint64{"_stext": textStart}, tried: map[uint64]bool{}}
	return sc.run(textStart, textEnd, false)
}

// ScanKallsymsInfo is ScanKallsyms with textStart from SYMBOL(_stext) and
// the KASLR offset from KERNELOFFSET; every SYMBOL() of info that kallsyms
// holds (init_uts_ns, ...) must decode to its VMCOREINFO address.
//
// It first scans backwards from SYMBOL(init_uts_ns): that is in .data, and
// the kallsyms tables are in .rodata just before it (x86_64 vmlinux.lds.S
// orders .text, .rodata, .data), which reads about a third of what the
// forward scan from _stext does. The forward scan is the fallback.
func ScanKallsymsInfo(mem vmem.Reader, info *vmcoreinfo.Info) (*Table, error) {
	want := vmcoreinfoSymbols(info)
	stext, ok := want["_stext"]
	if !ok {
		off, _ := info.KernelOffset()
		stext = defaultText + off
		want["_stext"] = stext
	}
	sc := &scanner{mem: mem, want: want, tried: map[uint64]bool{}}
	if uts, ok := want["init_uts_ns"]; ok && uts > stext && uts-stext <= maxScanSize {
		if t, err := sc.run(stext, uts, true); err == nil {
			return t, nil
		}
	}
	return sc.run(stext, 0, false)
}

// scanner remembers the signature hits already tried.
type scanner struct {
	mem     vmem.Reader
	want    map[string]uint64
	tried   map[uint64]bool
	reasons []string
}

// run scans [start, end) in chunks, forwards or backwards.
func (sc *scanner) run(start, end uint64, backwards bool) (*Table, error) {
	mem := sc.mem
	if end == 0 || end <= start {
		end = start + DefaultScanSize
		if end < start {
			end = ^uint64(0)
		}
	}
	if end-start > maxScanSize {
		end = start + maxScanSize
	}
	nchunks := (end - start + scanChunk - 1) / scanChunk
	hole := uint64(0)
	for k := uint64(0); k < nchunks; k++ {
		a := start + k*scanChunk
		if backwards {
			a = start + (nchunks-1-k)*scanChunk
		}
		n := uint64(scanChunk + len(tokenSignature) - 1)
		if end-a < n {
			n = end - a
		}
		segs := readSegments(mem, a, int(n))
		if len(segs) == 0 {
			hole += n
			if hole >= maxHole {
				break
			}
			continue
		}
		hole = 0
		for _, sg := range segs {
			data := sg.data
			for off := 0; ; {
				i := bytes.Index(data[off:], tokenSignature)
				if i < 0 {
					break
				}
				hit := sg.addr + uint64(off+i)
				off += i + 1
				if hit-a >= scanChunk || sc.tried[hit] { // the next chunk's overlap sees it
					continue
				}
				sc.tried[hit] = true
				t, err := tryTokenHit(mem, hit, sc.want)
				if err == nil {
					return t, nil
				}
				if len(sc.reasons) < 8 {
					sc.reasons = append(sc.reasons, fmt.Sprintf("candidate at %#x: %v", hit, err))
				}
			}
		}
	}
	if len(sc.reasons) == 0 {
		return nil, fmt.Errorf("%w: no token table signature in [%#x, %#x)", ErrKallsymsNotFound, start, end)
	}
	return nil, fmt.Errorf("%w: %s", ErrKallsymsNotFound, strings.Join(sc.reasons, "; "))
}

type segment struct {
	addr uint64
	data []byte
}

// readSegments reads [addr, addr+n) and returns its mapped runs: one read
// when everything is there, page by page around holes.
func readSegments(mem vmem.Reader, addr uint64, n int) []segment {
	buf := make([]byte, n)
	if mem.ReadVirt(buf, addr) == nil {
		return []segment{{addr, buf}}
	}
	var segs []segment
	runStart := -1
	for off := 0; off < n; {
		step := 4096 - int((addr+uint64(off))%4096)
		if step > n-off {
			step = n - off
		}
		if mem.ReadVirt(buf[off:off+step], addr+uint64(off)) == nil {
			if runStart < 0 {
				runStart = off
			}
		} else if runStart >= 0 {
			segs = append(segs, segment{addr + uint64(runStart), buf[runStart:off]})
			runStart = -1
		}
		off += step
	}
	if runStart >= 0 {
		segs = append(segs, segment{addr + uint64(runStart), buf[runStart:]})
	}
	return segs
}

// readSuffix reads [addr, addr+n) and returns the mapped run that ends at
// addr+n (shorter than n when a page before it is missing).
func readSuffix(mem vmem.Reader, addr uint64, n int) []byte {
	buf := make([]byte, n)
	if mem.ReadVirt(buf, addr) == nil {
		return buf
	}
	end := n
	for end > 0 {
		a := addr + uint64(end)
		step := int((a-1)%4096) + 1
		if step > end {
			step = end
		}
		if mem.ReadVirt(buf[end-step:end], a-uint64(step)) != nil {
			break
		}
		end -= step
	}
	return buf[end:]
}

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }

// foundTokens is a validated kallsyms_token_table / kallsyms_token_index.
type foundTokens struct {
	table, index uint64
	tok          *tokens
}

// tryTokenHit checks a signature hit (the address of token 0x30) and, when it
// is the token table, finds and decodes the rest.
func tryTokenHit(mem vmem.Reader, hit uint64, want map[string]uint64) (*Table, error) {
	ft, err := checkTokenTable(mem, hit)
	if err != nil {
		return nil, err
	}
	return findNamesAndAddrs(mem, ft, want)
}

// checkTokenTable validates the token table around a signature hit and finds
// kallsyms_token_index after it (scripts/kallsyms.c write_src() emits the
// index right after the table, aligned).
func checkTokenTable(mem vmem.Reader, hit uint64) (*foundTokens, error) {
	// Tokens 0x30..0xff: 208 NUL-terminated strings from hit.
	tail, _ := readPrefix(mem, hit, 32<<10, nil)
	var rel [208]int // offset of token 0x30+k from hit
	p := 0
	for k := range 208 {
		rel[k] = p
		e := bytes.IndexByte(tail[p:], 0)
		if e < 0 || e > maxTokenLen {
			return nil, errors.New("tokens after the digits are not NUL-terminated strings")
		}
		p += e + 1
	}
	tableEnd := hit + uint64(p)
	var lastErr error
	tried := map[uint64]bool{}
	for _, al := range []uint64{8, 4, 2} {
		ti := alignUp(tableEnd, al)
		if tried[ti] {
			continue
		}
		tried[ti] = true
		idx, err := readArray(mem, "kallsyms_token_index", ti, 512)
		if err != nil {
			lastErr = err
			continue
		}
		u := func(i int) uint64 { return uint64(binary.LittleEndian.Uint16(idx[2*i:])) }
		v := u(0x30)
		if u(0) != 0 || v == 0 || v > hit {
			lastErr = fmt.Errorf("no kallsyms_token_index at %#x", ti)
			continue
		}
		ok := true
		for k := range 208 {
			if u(0x30+k) != v+uint64(rel[k]) {
				ok = false
				break
			}
		}
		if !ok {
			lastErr = fmt.Errorf("kallsyms_token_index at %#x does not match the tokens", ti)
			continue
		}
		start := hit - v
		head, err := readArray(mem, "kallsyms_token_table", start, int(v))
		if err != nil {
			lastErr = err
			continue
		}
		table := append(head, tail[:p]...)
		tok, err := parseTokens(idx, table)
		if err != nil {
			lastErr = err
			continue
		}
		// The index must also walk the head token by token.
		q := uint64(0)
		for i := range 0x30 {
			if u(i) != q {
				ok = false
				break
			}
			q += uint64(len(tok[i])) + 1
		}
		if !ok || q != v {
			lastErr = fmt.Errorf("kallsyms_token_index at %#x does not walk the table head", ti)
			continue
		}
		return &foundTokens{table: start, index: ti, tok: tok}, nil
	}
	return nil, lastErr
}

// findNamesAndAddrs searches backwards from the token table for
// kallsyms_num_syms followed by kallsyms_names (write_src() order in every
// version: num_syms, names, markers, [seqs_of_names,] token_table), then the
// address table.
func findNamesAndAddrs(mem vmem.Reader, ft *foundTokens, want map[string]uint64) (*Table, error) {
	var win []byte // memory [base, ft.table)
	base := ft.table
	testedFrom := -1 // candidates at win offsets >= testedFrom were tried
	var lastErr error
	for span := 2 << 20; span <= maxNamesSpan; span *= 2 {
		grow := span - len(win)
		if uint64(grow) > base {
			grow = int(base)
		}
		more := readSuffix(mem, base-uint64(grow), grow)
		win = append(append(make([]byte, 0, len(more)+len(win)), more...), win...)
		base -= uint64(len(more))
		hi := len(win) - 8
		if testedFrom >= 0 {
			hi = min(hi, testedFrom+len(more)-1)
		}
		for x := hi; x >= 0; x-- {
			if (base+uint64(x))%4 != 0 {
				continue
			}
			n := int(binary.LittleEndian.Uint32(win[x:]))
			// Every entry takes at least two bytes.
			if n == 0 || n > MaxSyms || n > (len(win)-x)/2 {
				continue
			}
			for _, s := range []int{x + 4, x + 8} {
				if s == x+8 && binary.LittleEndian.Uint32(win[x+4:]) != 0 {
					continue
				}
				if !quickNames(win[s:], n, ft.tok) {
					continue
				}
				t, namesOK, err := fullCheck(mem, ft, win, base, x, s, n, want)
				if err == nil || namesOK {
					// Names matching kallsyms_markers are the table:
					// no other candidate can be better.
					return t, err
				}
				lastErr = err
			}
		}
		testedFrom = 0
		if len(more) < grow || base == 0 {
			break // a hole, or the bottom of the address space
		}
	}
	if lastErr == nil {
		lastErr = errors.New("kallsyms_num_syms/kallsyms_names not found before the token table")
	}
	return nil, lastErr
}

// quickNames checks the first entries of a would-be kallsyms_names cheaply.
func quickNames(b []byte, n int, tok *tokens) bool {
	k := min(n, 16)
	pos := 0
	for range k {
		if pos >= len(b) {
			return false
		}
		l := int(b[pos])
		hdr := 1
		if l&0x80 != 0 {
			if pos+1 >= len(b) {
				return false
			}
			l = l&0x7F | int(b[pos+1])<<7
			hdr = 2
		}
		if l == 0 || pos+hdr+l > len(b) {
			return false
		}
		first := b[pos+hdr]
		if len(tok[first]) == 0 || !isLetter(tok[first][0]) {
			return false
		}
		for _, c := range b[pos+hdr : pos+hdr+l] {
			for _, ch := range tok[c] {
				if ch <= ' ' || ch >= 0x7f {
					return false
				}
			}
		}
		pos += hdr + l
	}
	return true
}

// fullCheck decodes all names from win[s:] and compares the markers after
// them, then locates and decodes the addresses.
func fullCheck(mem vmem.Reader, ft *foundTokens, win []byte, base uint64, x, s, n int, want map[string]uint64) (t *Table, namesOK bool, err error) {
	var d *decoded
	for _, long := range []bool{true, false} {
		d, err = decodeNames(sliceSource(win[s:]), n, ft.tok, long, len(win)-s)
		if err != nil {
			continue
		}
		if err = checkMarkers(win, base, s, d); err == nil {
			break
		}
	}
	if err != nil {
		return nil, false, err
	}
	loc := kallsymsLoc{
		numSyms:    n,
		names:      base + uint64(s),
		tokenTable: ft.table,
		tokenIndex: ft.index,
	}
	numAddr := base + uint64(x)
	addrs, err := scanAddrs(mem, &loc, numAddr, d, want)
	if err != nil {
		return nil, true, fmt.Errorf("kallsyms_names at %#x (%d symbols): %w", loc.names, n, err)
	}
	// The names stream is a slice of the scan's window: keep a copy only.
	d.names.stream = bytes.Clone(d.names.stream)
	return buildKallsymsTable(SourceKallsymsScan, d, addrs), true, nil
}

// checkMarkers compares kallsyms_markers (u32 offsets of every 256th name,
// right after kallsyms_names, aligned) with the decoded offsets.
func checkMarkers(win []byte, base uint64, s int, d *decoded) error {
	end := base + uint64(s+d.end)
	for _, al := range []uint64{8, 4} {
		m := int(alignUp(end, al) - base)
		if m+4*len(d.markers) > len(win) {
			continue
		}
		ok := true
		for i, want := range d.markers {
			if binary.LittleEndian.Uint32(win[m+4*i:]) != want {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
	}
	return errors.New("kallsyms_markers do not match the decoded names")
}

// scanAddrs tries the places the address table has been put: before
// kallsyms_num_syms (kallsyms_addresses, or kallsyms_offsets then
// kallsyms_relative_base; up to 6.x) or after kallsyms_token_index
// (kallsyms_offsets [then kallsyms_relative_base]; newer write_src()).
func scanAddrs(mem vmem.Reader, loc *kallsymsLoc, numAddr uint64, d *decoded, want map[string]uint64) (*addrTable, error) {
	n := uint64(loc.numSyms)
	type layout struct{ addresses, offsets, relBase uint64 }
	var lays []layout
	// Before num_syms.
	if numAddr >= 8 {
		rb := numAddr - 8
		for _, sz := range []uint64{alignUp(4*n, 8), 4 * n} {
			if rb >= sz {
				lays = append(lays, layout{offsets: rb - sz, relBase: rb})
			}
		}
	}
	if numAddr >= 8*n {
		lays = append(lays, layout{addresses: numAddr - 8*n})
	}
	// After token_index.
	after := loc.tokenIndex + 512
	for _, al := range []uint64{8, 4} {
		off := alignUp(after, al)
		lays = append(lays, layout{offsets: off, relBase: alignUp(off+4*n, 8)})
		lays = append(lays, layout{offsets: off})
	}
	var errs []string
	seen := map[layout]bool{}
	for _, l := range lays {
		if seen[l] {
			continue
		}
		seen[l] = true
		c := *loc
		c.addresses, c.offsets, c.relBase = l.addresses, l.offsets, l.relBase
		addrs, err := c.addrs(mem, d, want)
		if err == nil {
			return addrs, nil
		}
		errs = append(errs, err.Error())
	}
	return nil, fmt.Errorf("no address table decodes (%s)", strings.Join(errs, " | "))
}
