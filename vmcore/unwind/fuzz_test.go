package unwind

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/panicscope/panicscope/vmcore/vmem"
)

// FuzzFind feeds orc_find() hostile tables: unsorted or self-referencing IP
// offsets, orc_lookup values past the table, huge counts. Find must answer
// or fail, never panic or read without bound.
func FuzzFind(f *testing.F) {
	s := newSynth(LayoutV1, 4)
	for i := 0; i < 4; i++ {
		s.orc(fn(i), Entry{SPOffset: 8, SPReg: RegSP, Type: TypeCall})
	}
	tab, _ := s.build()
	ipTab := make([]byte, 4*tab.Num)
	_ = tab.Mem.ReadVirt(ipTab, tab.IPStart)
	f.Add(ipTab, []byte{8, 0, 0, 0, 5, 0}, []byte{0, 0, 0, 0, 1, 0, 0, 0}, uint64(0x123), uint8(1))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f}, []byte{}, []byte{0xff, 0xff, 0xff, 0xff}, uint64(0), uint8(3))
	f.Fuzz(func(t *testing.T, ips, orcs, lookup []byte, ip uint64, layout uint8) {
		mem := &vmem.Fake{}
		mem.Map(synthORC, ips)
		mem.Map(synthORC+0x100000, orcs)
		mem.Map(synthLookup, lookup)
		tab := &Table{Mem: mem, Layout: Layout(layout%3 + 1), IPStart: synthORC, ORCStart: synthORC + 0x100000,
			Num:    uint64(len(ips)/4) + uint64(ip%3), // sometimes more entries than mapped
			Lookup: synthLookup, LookupBlocks: uint64(len(lookup) / 4), TextStart: synthText, TextEnd: synthText + synthTextLen,
			InitStart: synthText + synthTextLen, InitEnd: synthText + 2*synthTextLen,
			Modules: []ModuleORC{{Name: "m", Text: [][2]uint64{{synthText + 2*synthTextLen, synthText + 3*synthTextLen}},
				IP: synthORC, ORC: synthORC + 0x100000, Num: ip % 1000}}}
		for _, q := range []uint64{0, ip, synthText + ip%(3*synthTextLen), synthText, synthText + synthTextLen - 1} {
			e, ok, err := tab.Find(q)
			if err == nil && ok && q != 0 && e.SPReg > 15 {
				t.Fatalf("sp_reg %d out of its 4 bits", e.SPReg)
			}
		}
	})
}

// FuzzWalk unwinds hostile stacks: arbitrary stack words (loops, huge
// frames, pointers to other stacks, unmapped pages) under arbitrary ORC
// entries. The walk must stay within MaxDepth and never panic.
func FuzzWalk(f *testing.F) {
	stacks, regs, s, st := chainForFuzz()
	f.Add(entriesBytes(s), st.bytes()[0x2000:0x2100], uint16(0), uint16(0x10), uint8(0), uint8(0))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{1, 2, 3}, uint16(8), uint16(0), uint8(2), uint8(1))
	_ = stacks
	_ = regs
	f.Fuzz(func(t *testing.T, entries, stack []byte, spOff, ipOff uint16, layout, holes uint8) {
		const maxDepth = 64
		sy := newSynth(Layout(layout%3+1), 16)
		sy.lookup = layout&4 != 0
		// Each 10 bytes: a u32 text offset and a 6-byte orc_entry.
		for i := 0; i+10 <= len(entries) && i < 10*64; i += 10 {
			off := uint64(binary.LittleEndian.Uint32(entries[i:])) % synthTextLen
			sy.orc(synthText+off, DecodeEntry(entries[i+4:i+10], sy.layout))
		}
		tab, syms := sy.build()
		// Task stack: the fuzz bytes repeated; IRQ stack: the same bytes
		// reversed, linking back to the task stack at its top.
		task := make([]byte, 16<<10)
		irq := make([]byte, 16<<10)
		if len(stack) > 0 {
			for i := range task {
				task[i] = stack[i%len(stack)]
				irq[len(irq)-1-i] = stack[i%len(stack)]
			}
		}
		// Leave pages out of the dump as the bits of holes say.
		for p := 0; p < 4; p++ {
			if holes&(1<<p) == 0 {
				sy.mem.Map(synthStack+uint64(p)*pageSize, task[p*pageSize:(p+1)*pageSize])
			}
			if holes&(16<<p) == 0 {
				sy.mem.Map(synthIRQ+uint64(p)*pageSize, irq[p*pageSize:(p+1)*pageSize])
			}
		}
		u := &Unwinder{Mem: sy.mem, ORC: tab, Syms: syms, MaxDepth: maxDepth, Interleave: holes&1 != 0}
		stacks := Stacks{
			{Kind: StackTask, Begin: synthStack, End: synthStack + 16<<10},
			{Kind: StackIRQ, Begin: synthIRQ, End: synthIRQ + 16<<10, Link: synthIRQ + 16<<10 - 8},
			{Kind: "NMI", Begin: synthIRQ + 0x10000, End: synthIRQ + 0x12000, Link: synthIRQ + 0x12000 - PtRegsSize, LinkRegs: true},
		}
		base := uint64(synthStack)
		if layout&8 != 0 {
			base = synthIRQ
		}
		r := Regs{IP: synthText + uint64(ipOff)%synthTextLen, SP: base + uint64(spOff)%(16<<10), BP: base + uint64(ipOff)*8, CS: 0x10,
			R10: base + uint64(spOff), R13: base, DI: base + 0x100, DX: base + 0x200}
		if h := u.HandlerFrames(r, stacks); len(h) > maxHandlerFrames {
			t.Fatalf("%d handler frames", len(h))
		}
		for _, start := range []Start{
			{Regs: r, Full: true, Signal: true, Method: MethodRegs},
			{Regs: r, Method: MethodSaved},
		} {
			done := make(chan *Trace, 1)
			go func() { done <- u.Walk(start, stacks) }()
			var tr *Trace
			select {
			case tr = <-done:
			case <-time.After(5 * time.Second):
				buf := make([]byte, 1<<20)
				t.Fatalf("walk hangs:\n%s", buf[:runtime.Stack(buf, true)])
			}
			if len(tr.Frames) > maxInterleave*maxDepth || !u.Interleave && len(tr.Frames) > maxDepth {
				t.Fatalf("%d frames over MaxDepth %d", len(tr.Frames), maxDepth)
			}
			if tr.End == "" {
				t.Fatalf("walk ended without a reason")
			}
			_ = tr.String()
		}
	})
}

func chainForFuzz() (Stacks, Regs, *synth, *stackImage) {
	s := newSynth(LayoutV1, 8)
	s.orc(fn(0), Entry{SPOffset: 16, SPReg: RegSP, Type: TypeCall})
	s.orc(fn(1), Entry{SPOffset: 32, SPReg: RegSP, BPReg: RegPrevSP, BPOffset: -16, Type: TypeCall})
	s.orc(fn(2), Entry{SPOffset: 8, SPReg: RegSP, Type: TypeCall})
	s.orc(fn(2)+0x80, Entry{Type: TypeEndOfStack})
	st := newStack(synthStack, 16<<10)
	sp := uint64(synthStack + 0x2000)
	st.set(sp+8, fn(1)+0x20)
	st.set(sp+16+24, fn(2)+0x90)
	return Stacks{{Kind: StackTask, Begin: st.begin, End: st.end()}}, Regs{IP: fn(0) + 0x10, SP: sp, CS: 0x10}, s, st
}

func entriesBytes(s *synth) []byte {
	var out []byte
	for _, x := range s.entries {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(x.ip-synthText))
		out = append(out, b[:]...)
		out = append(out, encodeEntry(x.e, s.layout)...)
	}
	return out
}
