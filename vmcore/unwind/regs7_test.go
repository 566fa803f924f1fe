package unwind

import (
	"errors"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// A 7.x table (registers numbered RegsV2) walks like a 6.x one: the entries
// are converted when decoded.
func TestWalkChainRegsV2(t *testing.T) {
	for _, n := range []RegNumbering{RegsV1, RegsV2} {
		stacks, regs, s, st := chain(t, LayoutV3)
		s.regs = n
		u := finish(s, st)
		tr := u.Walk(Start{Regs: regs, Full: true, Signal: true, Method: MethodRegs}, stacks)
		if got, want := names(tr), "fa0/regs fb0/orc fc0/orc"; got != want || tr.End != EndOfStack {
			t.Errorf("%v: %s (%s %s), want %s", n, got, tr.End, tr.Err, want)
		}
	}
	// Read in the wrong numbering, the same table does not unwind.
	stacks, regs, s, st := chain(t, LayoutV3)
	s.regs = RegsV2
	u := finish(s, st)
	u.ORC.Regs = RegsV1
	if tr := u.Walk(Start{Regs: regs, Full: true, Signal: true, Method: MethodRegs}, stacks); names(tr) == "fa0/regs fb0/orc fc0/orc" {
		t.Errorf("a RegsV2 table read as RegsV1 still unwinds: the test cannot tell them apart")
	}
}

// detectRegs reads the numbering from null_orc_entry and orc_fp_entry as
// Debian 6.12.117 and 7.3.4 hold them (bytes read from the lab dumps).
func TestDetectRegs(t *testing.T) {
	const nullAt, fpAt = 0xffffffff82000000, 0xffffffff82000010
	k := func(null, fp []byte) *kernel.Kernel {
		m := &vmem.Fake{}
		syms := []symbols.Symbol{}
		if null != nil {
			m.Map(nullAt, null)
			syms = append(syms, symbols.Symbol{Name: "null_orc_entry", Addr: nullAt, Size: 6, Type: 'd'})
		}
		if fp != nil {
			m.Map(fpAt, fp)
			syms = append(syms, symbols.Symbol{Name: "orc_fp_entry", Addr: fpAt, Size: 6, Type: 'd'})
		}
		tab := symbols.New("synthetic", syms)
		return &kernel.Kernel{Mem: m, Syms: kernel.SymbolFunc(func(n string) (uint64, bool) {
			s, ok := tab.Lookup(n)
			return s.Addr, ok
		})}
	}
	v612null, v612fp := []byte{0x08, 0, 0, 0, 0x05, 0x02}, []byte{0x10, 0, 0xf0, 0xff, 0x14, 0x02}
	v73null, v73fp := []byte{0x08, 0, 0, 0, 0x03, 0x02}, []byte{0x10, 0, 0xf0, 0xff, 0x84, 0x02}
	for _, c := range []struct {
		name     string
		k        *kernel.Kernel
		release  string
		want     RegNumbering
		note     string
		noORCErr bool
	}{
		{"6.12", k(v612null, v612fp), "6.12.117+deb13-amd64", RegsV1, "", false},
		{"7.3", k(v73null, v73fp), "7.3.4+deb13-amd64", RegsV2, "", false},
		{"7.3 release but 6.x entries", k(v612null, v612fp), "7.3.4", RegsV1, "", false},
		{"no symbols, 7.x release", k(nil, nil), "7.3.4+deb13-amd64", RegsV2, "assumed from the release", false},
		{"no symbols, 6.x release", k(nil, nil), "6.1.0-56-amd64", RegsV1, "assumed from the release", false},
		{"unknown numbering", k([]byte{0x08, 0, 0, 0, 0x06, 0x02}, v73fp), "7.9", 0, "", true},
	} {
		n, note, err := detectRegs(c.k, LayoutV3, c.release)
		if c.noORCErr {
			if !errors.Is(err, ErrNoORC) || !strings.Contains(err.Error(), "unknown ORC register numbering") {
				t.Errorf("%s: err %v", c.name, err)
			}
			continue
		}
		if err != nil || n != c.want || !strings.Contains(note, c.note) || (c.note == "") != (note == "") {
			t.Errorf("%s: %v %q %v, want %v %q", c.name, n, note, err, c.want, c.note)
		}
	}
}
