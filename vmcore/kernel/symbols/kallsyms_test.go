package symbols

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

const rodataBase = testText + 0x800000 // where the synthetic tables live

func checkTable(t *testing.T, tab *Table, syms []testSym) {
	t.Helper()
	if tab.Len() != len(syms) {
		t.Fatalf("Len = %d, want %d", tab.Len(), len(syms))
	}
	i := 0
	for s := range tab.All() {
		w := syms[i]
		if s.Name != w.name || s.Addr != w.addr || s.Type != w.typ || s.Module != "" {
			t.Fatalf("symbol %d = %q %#x %c, want %q %#x %c", i, s.Name, s.Addr, s.Type, w.name, w.addr, w.typ)
		}
		i++
	}
	for _, w := range syms {
		s, ok := tab.Lookup(w.name)
		if !ok {
			t.Fatalf("Lookup(%q) failed", w.name)
		}
		if w.name != "dup_static" && s.Addr != w.addr {
			t.Fatalf("Lookup(%q) = %#x, want %#x", w.name, s.Addr, w.addr)
		}
	}
}

func TestFromKallsymsEncodings(t *testing.T) {
	cases := []struct {
		name   string
		enc    addrEncoding
		lay    layoutKind
		percpu bool
	}{
		{"base-relative", encRelative, lay61, false},
		{"absolute-percpu", encAbsPercpu, lay61, true},
		{"absolute-percpu-6.12-layout", encAbsPercpu, lay612, true},
		{"absolute", encAbsolute, lay510, true},
		{"place-relative", encPlaceRelative, layPlace, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			syms := testSymbols(c.percpu, true)
			img := buildImage(t, rodataBase, syms, c.enc, c.lay, true)
			info := vmcoreinfoFor(t, img, syms, "6.1.0-56-amd64")
			tab, err := FromKallsyms(fakeWith(img), info)
			if err != nil {
				t.Fatal(err)
			}
			if tab.Source() != SourceKallsyms {
				t.Errorf("Source = %q", tab.Source())
			}
			if tab.Encoding() != c.enc.String() {
				t.Errorf("Encoding = %q, want %q", tab.Encoding(), c.enc.String())
			}
			checkTable(t, tab, syms)
			long := syms[len(syms)-8]
			if len(long.name) < 128 {
				t.Fatalf("test setup: %q is not the long name", long.name)
			}
			if s, ok := tab.Lookup(long.name); !ok || s.Addr != long.addr {
				t.Errorf("long name lookup = %v %v", s, ok)
			}
			if m, err := tab.Verify(info); err != nil || m != 2 {
				t.Errorf("Verify = %d, %v", m, err)
			}
		})
	}
}

func TestLongNameNeedsTwoByteLength(t *testing.T) {
	syms := testSymbols(false, true)
	c := compressNames(t, syms, true)
	found := false
	for p, i := 0, 0; i < len(syms); i++ {
		l := int(c.names[p])
		if l&0x80 != 0 {
			found = true
			l = l&0x7F | int(c.names[p+1])<<7
			p++
		}
		p += 1 + l
	}
	if !found {
		t.Fatal("no symbol uses the two-byte length; the long-name test proves nothing")
	}
}

// A 6.0 kernel (one-byte lengths) decodes with the old rule.
func TestFromKallsymsPre61(t *testing.T) {
	syms := testSymbols(true, false)
	img := buildImage(t, rodataBase, syms, encAbsPercpu, lay61, false)
	info := vmcoreinfoFor(t, img, syms, "6.0.19")
	tab, err := FromKallsyms(fakeWith(img), info)
	if err != nil {
		t.Fatal(err)
	}
	checkTable(t, tab, syms)
}

func TestScanKallsyms(t *testing.T) {
	cases := []struct {
		name   string
		enc    addrEncoding
		lay    layoutKind
		percpu bool
		long   bool
	}{
		{"5.10", encAbsPercpu, lay510, true, false},
		{"5.10-relative", encRelative, lay510, false, false},
		{"5.10-absolute", encAbsolute, lay510, true, false},
		{"6.1", encAbsPercpu, lay61, true, true},
		{"6.12", encAbsPercpu, lay612, true, true},
		{"place-relative", encPlaceRelative, layPlace, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			syms := testSymbols(c.percpu, c.long)
			img := buildImage(t, rodataBase, syms, c.enc, c.lay, c.long)
			f := fakeWith(img)
			// Kernel text with a decoy signature, then an unmapped gap
			// (the text/rodata hole), then the tables.
			text := make([]byte, 3<<20)
			for i := range text {
				text[i] = byte(i * 7)
			}
			copy(text[0x12345:], tokenSignature)
			f.Map(testText, text)
			f.Map(rodataBase-0x10000, make([]byte, 0x10000-0)) // zeros right before
			tab, err := ScanKallsyms(f, testText, 0, testKASLR)
			if err != nil {
				t.Fatal(err)
			}
			if tab.Source() != SourceKallsymsScan {
				t.Errorf("Source = %q", tab.Source())
			}
			checkTable(t, tab, syms)
			info := vmcoreinfoFor(t, img, syms, "5.10.0-32-amd64")
			tab2, err := ScanKallsymsInfo(f, info)
			if err != nil {
				t.Fatal(err)
			}
			checkTable(t, tab2, syms)
			// The backwards scan from init_uts_ns finds them by itself.
			uts, _ := info.Symbol("init_uts_ns")
			sc := &scanner{mem: f, want: map[string]uint64{"_stext": testText}, tried: map[uint64]bool{}}
			if _, err := sc.run(testText, uts, true); err != nil {
				t.Errorf("backwards scan: %v", err)
			}
		})
	}
}

func TestScanKallsymsNotFound(t *testing.T) {
	f := &vmem.Fake{}
	f.Map(testText, make([]byte, 1<<20))
	_, err := ScanKallsyms(f, testText, 0, testKASLR)
	if !errors.Is(err, ErrKallsymsNotFound) {
		t.Fatalf("err = %v", err)
	}
	// Right tables, wrong _stext: rejected.
	syms := testSymbols(true, false)
	img := buildImage(t, rodataBase, syms, encAbsPercpu, lay510, false)
	f = fakeWith(img)
	_, err = ScanKallsyms(f, testText-0x200000, rodataBase+0x100000, 0)
	if !errors.Is(err, ErrKallsymsNotFound) || !strings.Contains(err.Error(), "_stext") {
		t.Fatalf("err = %v", err)
	}
}

func TestFromKallsymsMissing(t *testing.T) {
	info, err := vmcoreinfo.Parse([]byte("OSRELEASE=5.10.0\nSYMBOL(_stext)=ffffffff81000000\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromKallsyms(&vmem.Fake{}, info); !errors.Is(err, ErrNoKallsyms) {
		t.Fatalf("err = %v", err)
	}
}

// hostile builds a valid image, lets mutate break it, and expects an error.
func hostile(t *testing.T, name string, mutate func(img *image, f *vmem.Fake) *vmem.Fake, wantErr string) {
	t.Run(name, func(t *testing.T) {
		syms := testSymbols(true, true)
		img := buildImage(t, rodataBase, syms, encAbsPercpu, lay61, true)
		info := vmcoreinfoFor(t, img, syms, "6.1.0")
		f := mutate(img, fakeWith(img))
		_, err := FromKallsyms(f, info)
		if err == nil {
			t.Fatal("no error")
		}
		if !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want it to mention %q", err, wantErr)
		}
	})
}

func TestFromKallsymsHostile(t *testing.T) {
	at := func(img *image, label string) int { return int(img.labels[label] - img.base) }
	hostile(t, "token index past table", func(img *image, f *vmem.Fake) *vmem.Fake {
		binary.LittleEndian.PutUint16(img.data[at(img, "kallsyms_token_index")+2*200:], 0xFFF0)
		return f
	}, "kallsyms_token_index[200]=65520 is past the token table")
	hostile(t, "num_syms huge", func(img *image, f *vmem.Fake) *vmem.Fake {
		binary.LittleEndian.PutUint32(img.data[at(img, "kallsyms_num_syms"):], 3_000_000)
		return f
	}, "out of range")
	hostile(t, "num_syms slightly too big", func(img *image, f *vmem.Fake) *vmem.Fake {
		p := at(img, "kallsyms_num_syms")
		binary.LittleEndian.PutUint32(img.data[p:], binary.LittleEndian.Uint32(img.data[p:])+500)
		return f
	}, "kallsyms_names entry")
	hostile(t, "names truncated at an unmapped page", func(img *image, f *vmem.Fake) *vmem.Fake {
		// Map only the first 4 KiB of kallsyms_names (page-aligned cut).
		names := img.labels["kallsyms_names"]
		cut := alignUp(names, 4096)
		if img.labels["kallsyms_markers"] <= cut {
			t.Fatal("test setup: kallsyms_names ends before the cut")
		}
		g := &vmem.Fake{}
		g.Map(img.base, img.data[:cut-img.base])
		// The rest of the tables after the names stay mapped.
		m := img.labels["kallsyms_markers"]
		g.Map(m, img.data[m-img.base:])
		return g
	}, "not mapped")
	hostile(t, "zero-length entry", func(img *image, f *vmem.Fake) *vmem.Fake {
		img.data[at(img, "kallsyms_names")] = 0
		return f
	}, "length 0")
	hostile(t, "offsets unmapped", func(img *image, f *vmem.Fake) *vmem.Fake {
		g := &vmem.Fake{}
		o := img.labels["kallsyms_relative_base"]
		g.Map(o, img.data[o-img.base:])
		return g
	}, "kallsyms_offsets")
	hostile(t, "wrong relative base", func(img *image, f *vmem.Fake) *vmem.Fake {
		p := at(img, "kallsyms_relative_base")
		binary.LittleEndian.PutUint64(img.data[p:], binary.LittleEndian.Uint64(img.data[p:])+0x1000)
		return f
	}, "do not decode")
	hostile(t, "token table unmapped", func(img *image, f *vmem.Fake) *vmem.Fake {
		g := &vmem.Fake{}
		tt := img.labels["kallsyms_token_table"]
		g.Map(img.base, img.data[:tt-img.base])
		ti := img.labels["kallsyms_token_index"]
		g.Map(ti, img.data[ti-img.base:])
		return g
	}, "token")
}

func TestBigSymbolsRelease(t *testing.T) {
	for rel, want := range map[string]bool{
		"6.1.0-56-amd64": true, "6.0.19": false, "5.10.0-32-amd64": false,
		"6.12.117+deb13-amd64": true, "7.0": true, "4.19.0": false, "garbage": true, "6.1-rc1": true,
	} {
		if got := bigSymbolsRelease(rel); got != want {
			t.Errorf("bigSymbolsRelease(%q) = %v", rel, got)
		}
	}
}
