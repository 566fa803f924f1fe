package symbols

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// Fuzz input layout for FuzzKallsyms:
//
//	u32 kallsyms_num_syms | 512 bytes kallsyms_token_index |
//	u16 L | L bytes kallsyms_token_table | u32 NL | NL bytes kallsyms_names |
//	the rest: kallsyms_offsets
//
// with kallsyms_relative_base = testText and SYMBOL(_stext) = testText.
func fuzzKallsymsInput(num uint32, index []byte, table, names, offsets []byte) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, num)
	b = append(b, index...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(table)))
	b = append(b, table...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(names)))
	b = append(b, names...)
	return append(b, offsets...)
}

func FuzzKallsyms(f *testing.F) {
	// Small seeds keep executions (and minimisation) cheap.
	syms := testSymbolsN(true, true, 30)
	img := buildImage(f, rodataBase, syms, encAbsPercpu, lay61, true)
	part := func(from, to string) []byte {
		return img.data[img.labels[from]-img.base : img.labels[to]-img.base]
	}
	off := img.labels["kallsyms_offsets"] - img.base
	index := img.data[img.labels["kallsyms_token_index"]-img.base:][:512]
	valid := fuzzKallsymsInput(uint32(len(syms)), index,
		part("kallsyms_token_table", "kallsyms_token_index"),
		part("kallsyms_names", "kallsyms_markers"),
		img.data[off:off+uint64(4*len(syms))])
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(fuzzKallsymsInput(1, make([]byte, 512), []byte("Tx\x00"), []byte{1, 0}, []byte{0, 0, 0, 0}))
	f.Add(fuzzKallsymsInput(3, make([]byte, 512), []byte{0}, []byte{0x80, 0x80, 1, 2, 3}, nil))
	f.Add([]byte{})
	// The valid seed must decode, or the fuzzer explores only error paths.
	if tab, err := runFuzzKallsyms(f, valid); err != nil || tab.Len() != len(syms) {
		f.Fatalf("valid seed: %v", err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := runFuzzKallsyms(t, data)
		if err != nil {
			return
		}
		s, ok := tab.Lookup("_stext")
		if !ok || s.Addr != testText {
			t.Fatalf("_stext = %+v %v", s, ok)
		}
		_ = tab.Format(testText + 0x10)
	})
}

func runFuzzKallsyms(t testing.TB, data []byte) (*Table, error) {
	r := bytes.NewReader(data)
	var num uint32
	var l uint16
	var nl uint32
	index := make([]byte, 512)
	_ = binary.Read(r, binary.LittleEndian, &num)
	_, _ = r.Read(index)
	_ = binary.Read(r, binary.LittleEndian, &l)
	table := make([]byte, min(int(l), r.Len()))
	_, _ = r.Read(table)
	_ = binary.Read(r, binary.LittleEndian, &nl)
	names := make([]byte, min(int(nl), r.Len()))
	_, _ = r.Read(names)
	offsets := make([]byte, r.Len())
	_, _ = r.Read(offsets)

	const (
		aNum   uint64 = 0xffffffff82000000
		aIndex uint64 = 0xffffffff82001000
		aTable uint64 = 0xffffffff82002000
		aNames uint64 = 0xffffffff82100000
		aOffs  uint64 = 0xffffffff82300000
		aBase  uint64 = 0xffffffff82400000
	)
	m := &vmem.Fake{}
	m.Map(aNum, binary.LittleEndian.AppendUint32(nil, num))
	m.Map(aIndex, index)
	if len(table) > 0 {
		m.Map(aTable, table)
	}
	if len(names) > 0 {
		m.Map(aNames, names)
	}
	if len(offsets) > 0 {
		m.Map(aOffs, offsets)
	}
	m.Map(aBase, binary.LittleEndian.AppendUint64(nil, testText))
	info, err := vmcoreinfo.Parse(fmt.Appendf(nil,
		"OSRELEASE=6.1.0\nSYMBOL(_stext)=%x\nSYMBOL(kallsyms_num_syms)=%x\nSYMBOL(kallsyms_token_index)=%x\n"+
			"SYMBOL(kallsyms_token_table)=%x\nSYMBOL(kallsyms_names)=%x\nSYMBOL(kallsyms_offsets)=%x\n"+
			"SYMBOL(kallsyms_relative_base)=%x\n",
		uint64(testText), aNum, aIndex, aTable, aNames, aOffs, aBase))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := FromKallsyms(m, info)
	if err == nil && tab.Len() != int(num) {
		t.Fatalf("Len %d, num_syms %d", tab.Len(), num)
	}
	return tab, err
}

// FuzzScanKallsyms feeds fuzzed memory to the scanner (the signature search,
// token index check, backwards name search and address layouts).
func FuzzScanKallsyms(f *testing.F) {
	syms := testSymbolsN(true, false, 30)
	img := buildImage(f, rodataBase, syms, encAbsPercpu, lay510, false)
	f.Add(img.data)
	f.Add(img.data[:len(img.data)/2])
	tt := img.labels["kallsyms_token_table"] - img.base
	f.Add(img.data[tt:])
	f.Add(append([]byte("xx"), tokenSignature...))
	if _, err := runFuzzScan(img.data); err != nil {
		f.Fatalf("valid seed: %v", err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		tab, err := runFuzzScan(data)
		if err != nil {
			return
		}
		if s, ok := tab.Lookup("_stext"); !ok || s.Addr != testText {
			t.Fatalf("_stext = %+v %v", s, ok)
		}
	})
}

func runFuzzScan(data []byte) (*Table, error) {
	m := &vmem.Fake{}
	if len(data) > 0 {
		m.Map(testText, data) // the image is position-independent
	}
	return ScanKallsyms(m, testText, testText+uint64(len(data)), testKASLR)
}

func FuzzSystemMap(f *testing.F) {
	f.Add([]byte(sampleMap))
	f.Add([]byte("ffffffffaa200000 T _text\nffffffffc0a01000 t f\t[m]\n"))
	f.Add([]byte("0000000000000000 T a\n"))
	f.Add([]byte("ffffffff81000000 T _stext\n\n\nffffffff81000010 t x [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, kind := range []MapKind{MapAuto, MapRuntime} {
			tab, err := ParseMap(bytes.NewReader(data), MapOptions{KASLROffset: 0x8e00000, Name: "fuzz", Kind: kind})
			if err != nil {
				continue
			}
			if tab.Len() == 0 {
				t.Fatal("empty table without error")
			}
			for s := range tab.All() {
				got, off, ok := tab.ByAddr(s.Addr)
				if !ok || off != 0 || got.Addr != s.Addr {
					t.Fatalf("ByAddr(%#x) = %+v %d %v", s.Addr, got, off, ok)
				}
				if _, ok := tab.Lookup(s.Name); !ok {
					t.Fatalf("Lookup(%q) failed", s.Name)
				}
				_ = tab.Format(s.Addr + 1)
				break
			}
		}
	})
}
