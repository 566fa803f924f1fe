package symbols

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// This file is a small model of scripts/kallsyms.c for tests: it compresses
// symbol names with the same table-lookup scheme (optimize_token_table()),
// encodes addresses in each form kallsyms_sym_address() knows, and lays the
// tables out in the order write_src() used in several kernel versions.

type testSym struct {
	name   string
	typ    byte
	addr   uint64
	percpu bool // absolute per-CPU symbol (make_percpus_absolute())
}

// compressed is the output of the name compression.
type compressed struct {
	tokenTable []byte
	tokenIndex [256]uint16
	names      []byte
	markers    []uint32
}

// compressNames models optimize_token_table() and the kallsyms_names part of
// write_src(). long selects the 6.1+ two-byte length form.
func compressNames(t testing.TB, syms []testSym, long bool) *compressed {
	t.Helper()
	var exp [256][]byte
	var used [256]bool
	table := make([][]byte, len(syms))
	for i, s := range syms {
		table[i] = append([]byte{s.typ}, s.name...)
		for _, c := range table[i] { // insert_real_symbols_in_table()
			used[c] = true
			exp[c] = []byte{c}
		}
	}
	// optimize_result(): give each free code, from 255 down, the most
	// frequent pair, and replace it everywhere.
	for code := 255; code >= 0; code-- {
		if used[code] {
			continue
		}
		counts := map[[2]byte]int{}
		for _, s := range table {
			for j := 0; j+1 < len(s); j++ {
				counts[[2]byte{s[j], s[j+1]}]++
			}
		}
		best, bestN := [2]byte{}, 0
		for p, n := range counts {
			if n > bestN || n == bestN && (p[0] < best[0] || p[0] == best[0] && p[1] < best[1]) {
				best, bestN = p, n
			}
		}
		if bestN == 0 {
			break
		}
		used[code] = true
		exp[code] = append(append([]byte{}, exp[best[0]]...), exp[best[1]]...)
		for i, s := range table {
			var out []byte
			for j := 0; j < len(s); j++ {
				if j+1 < len(s) && s[j] == best[0] && s[j+1] == best[1] {
					out = append(out, byte(code))
					j++
				} else {
					out = append(out, s[j])
				}
			}
			table[i] = out
		}
	}
	c := &compressed{}
	for i := range 256 {
		c.tokenIndex[i] = uint16(len(c.tokenTable))
		c.tokenTable = append(append(c.tokenTable, exp[i]...), 0)
	}
	for i, s := range table {
		if i&0xFF == 0 {
			c.markers = append(c.markers, uint32(len(c.names)))
		}
		l := len(s)
		switch {
		case l <= 0x7F:
			c.names = append(c.names, byte(l))
		case long:
			c.names = append(c.names, byte(l&0x7F|0x80), byte(l>>7))
		default:
			t.Fatalf("symbol %d compresses to %d tokens; needs the 6.1 long form", i, l)
		}
		c.names = append(c.names, s...)
	}
	return c
}

type layoutKind int

const (
	lay510   layoutKind = iota // addrs, relbase, num, names, markers, token_table, token_index
	lay61                      // ... markers, seqs_of_names (u32), token_table, token_index
	lay612                     // num, names, markers, token_table, token_index, offsets, relbase, seqs
	layPlace                   // as lay612 without relbase, .balign 4
)

// image is a laid-out kallsyms blob at base, with its labels.
type image struct {
	base   uint64
	data   []byte
	labels map[string]uint64
}

type writer struct {
	img   *image
	align int
}

func (w *writer) label(name string) {
	for len(w.img.data)%w.align != 0 {
		w.img.data = append(w.img.data, 0)
	}
	w.img.labels[name] = w.img.base + uint64(len(w.img.data))
}

func (w *writer) u32(v uint32) { w.img.data = binary.LittleEndian.AppendUint32(w.img.data, v) }
func (w *writer) u64(v uint64) { w.img.data = binary.LittleEndian.AppendUint64(w.img.data, v) }

// buildImage lays out the kallsyms tables of syms (sorted by address) at base.
func buildImage(t testing.TB, base uint64, syms []testSym, enc addrEncoding, lay layoutKind, long bool) *image {
	t.Helper()
	c := compressNames(t, syms, long)
	img := &image{base: base, labels: map[string]uint64{}}
	w := &writer{img: img, align: 8}
	if lay == layPlace {
		w.align = 4
	}
	n := len(syms)

	// Relative base: the first non-absolute symbol (record_relative_base()).
	var relBase uint64
	for _, s := range syms {
		if !s.percpu {
			relBase = s.addr
			break
		}
	}
	writeAddrs := func() {
		if enc == encAbsolute {
			w.label("kallsyms_addresses")
			for _, s := range syms {
				w.u64(s.addr)
			}
			return
		}
		w.label("kallsyms_offsets")
		at := img.labels["kallsyms_offsets"]
		for i, s := range syms {
			var v int64
			switch enc {
			case encRelative:
				v = int64(s.addr - relBase)
				if v < 0 || v > 0xFFFFFFFF {
					t.Fatalf("%s out of range for base-relative", s.name)
				}
			case encAbsPercpu:
				if s.percpu {
					v = int64(s.addr)
				} else {
					v = int64(relBase - s.addr - 1)
				}
			case encPlaceRelative:
				v = int64(s.addr - (at + uint64(4*i)))
			}
			w.u32(uint32(v))
		}
		if enc != encPlaceRelative {
			w.label("kallsyms_relative_base")
			w.u64(relBase)
		}
	}
	writeNames := func() {
		w.label("kallsyms_num_syms")
		w.u32(uint32(n))
		w.label("kallsyms_names")
		img.data = append(img.data, c.names...)
		w.label("kallsyms_markers")
		for _, m := range c.markers {
			w.u32(m)
		}
	}
	writeTokens := func() {
		w.label("kallsyms_token_table")
		img.data = append(img.data, c.tokenTable...)
		w.label("kallsyms_token_index")
		for _, v := range c.tokenIndex {
			img.data = binary.LittleEndian.AppendUint16(img.data, v)
		}
	}
	switch lay {
	case lay510:
		writeAddrs()
		writeNames()
		writeTokens()
	case lay61:
		writeAddrs()
		writeNames()
		w.label("kallsyms_seqs_of_names")
		for i := range n {
			w.u32(uint32(n - 1 - i))
		}
		writeTokens()
	case lay612, layPlace:
		writeNames()
		writeTokens()
		writeAddrs()
		w.label("kallsyms_seqs_of_names")
		for i := range n {
			img.data = append(img.data, 0, byte(i>>8), byte(i))
		}
	}
	// Some trailing data, as .rodata goes on.
	img.data = append(img.data, make([]byte, 64)...)
	return img
}

// vmcoreinfoFor writes the VMCOREINFO lines crash_save_vmcoreinfo_init()
// would for this image (6.0+), plus _stext and init_uts_ns.
func vmcoreinfoFor(t testing.TB, img *image, syms []testSym, release string) *vmcoreinfo.Info {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "OSRELEASE=%s\nPAGESIZE=4096\n", release)
	for _, s := range syms {
		if s.name == "_stext" || s.name == "init_uts_ns" {
			fmt.Fprintf(&b, "SYMBOL(%s)=%x\n", s.name, s.addr)
		}
	}
	names := []string{"kallsyms_names", "kallsyms_num_syms", "kallsyms_token_table", "kallsyms_token_index",
		"kallsyms_offsets", "kallsyms_relative_base", "kallsyms_addresses"}
	for _, nm := range names {
		if a, ok := img.labels[nm]; ok {
			fmt.Fprintf(&b, "SYMBOL(%s)=%x\n", nm, a)
		}
	}
	info, err := vmcoreinfo.Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return info
}

const (
	testKASLR = 0x1e200000
	testText  = defaultText + testKASLR
)

// testSymbols is a small kernel: per-CPU symbols (when percpu), text with
// aliases, digits in names (for the token signature), a long name, data.
func testSymbols(percpu bool, longName bool) []testSym {
	return testSymbolsN(percpu, longName, 600)
}

// testSymbolsN is testSymbols with nfunc functions (>= 401 for the
// duplicate and alias entries; fewer leaves them out).
func testSymbolsN(percpu bool, longName bool, nfunc int) []testSym {
	var syms []testSym
	if percpu {
		syms = append(syms,
			testSym{"fixed_percpu_data", 'A', 0x0, true},
			testSym{"cpu_debug_store", 'A', 0x1000, true},
			testSym{"irq_stack_backing_store", 'A', 0x2000, true},
			testSym{"cpu_number", 'A', 0x1a030, true},
			testSym{"__per_cpu_end", 'A', 0x2d000, true},
		)
	}
	a := uint64(testText)
	syms = append(syms,
		testSym{"_text", 'T', a, false},
		testSym{"startup_64", 'T', a, false},
		testSym{"_stext", 'T', a + 0x0, false},
	)
	a += 0x100
	for i := range nfunc {
		typ := byte('T')
		if i%3 == 1 {
			typ = 't'
		}
		name := fmt.Sprintf("func_%d_x86_64_%s", i, []string{"alpha", "beta", "gamma", "delta"}[i%4])
		syms = append(syms, testSym{name, typ, a, false})
		if i == 77 { // an alias
			syms = append(syms, testSym{"func_alias_77", 't', a, false})
		}
		if i == 100 { // a static duplicate name, later at another address
			syms = append(syms, testSym{"dup_static", 't', a, false})
		}
		if i == 400 {
			syms = append(syms, testSym{"dup_static", 't', a, false})
		}
		a += 0x40 + uint64(i%7)*0x10
	}
	if longName {
		// A name that cannot compress below 128 tokens: a Rust-like mangled
		// name of ~500 characters with few repeated pairs.
		var b strings.Builder
		b.WriteString("_RNvXs")
		x := uint32(12345)
		for b.Len() < 500 {
			x = x*1103515245 + 12345
			b.WriteByte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"[(x>>16)%63])
		}
		syms = append(syms, testSym{b.String(), 'T', a, false})
		a += 0x80
	}
	syms = append(syms, testSym{"_etext", 'T', a, false})
	// .rodata/.data well after the synthetic tables (which tests map at
	// rodataBase), as init_uts_ns follows the real kallsyms tables.
	a = testText + 0x1000000
	syms = append(syms,
		testSym{"__start_rodata", 'D', a, false},
		testSym{"linux_banner", 'R', a + 0x100, false},
		testSym{"init_uts_ns", 'D', a + 0x4000, false},
		testSym{"jiffies_64", 'D', a + 0x5000, false},
		testSym{"__bss_start", 'B', a + 0x9000, false},
		testSym{"_end", 'B', a + 0x20000, false},
	)
	sort.SliceStable(syms, func(i, j int) bool { return syms[i].addr < syms[j].addr })
	return syms
}

// fakeWith maps img into a vmem.Fake, padded to whole pages as a dump is.
func fakeWith(img *image) *vmem.Fake {
	for len(img.data)%4096 != 0 {
		img.data = append(img.data, 0)
	}
	f := &vmem.Fake{}
	f.Map(img.base, img.data)
	return f
}
