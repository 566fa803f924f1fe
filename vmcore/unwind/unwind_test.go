package unwind

import (
	"encoding/binary"
	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/x86"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeEntryLayouts(t *testing.T) {
	cases := []Entry{
		{SPOffset: 16, SPReg: RegSP, BPReg: RegUndefined, Type: TypeCall},
		{SPOffset: -8, BPOffset: -16, SPReg: RegBP, BPReg: RegPrevSP, Type: TypeCall},
		{SPOffset: 0, SPReg: RegSP, BPReg: RegUndefined, Type: TypeRegs, Signal: true},
		{SPOffset: 8, SPReg: RegSPIndirect, BPReg: RegUndefined, Type: TypeRegsPartial, Signal: true},
	}
	for _, l := range []Layout{LayoutV1, LayoutV2, LayoutV3} {
		for _, e := range cases {
			if got := DecodeEntry(encodeEntry(e, l), l); got != e {
				t.Errorf("%v: %+v decoded as %+v", l, e, got)
			}
		}
	}
	// 6.1 (v1): sp_reg UNDEFINED with end is the end of the stack, without
	// it a hole; the 2-bit type field is ignored then.
	b := []byte{0, 0, 0, 0, 0x00, 0x04} // sp_reg 0, bp_reg 0, type 0, end 1
	if e := DecodeEntry(b, LayoutV1); e.Type != TypeEndOfStack {
		t.Errorf("v1 end entry: %+v", e)
	}
	if e := DecodeEntry([]byte{0, 0, 0, 0, 0, 0}, LayoutV1); e.Type != TypeUndefined {
		t.Errorf("v1 null entry: %+v", e)
	}
	// 6.12 (v3): type 1 is END_OF_STACK, bit 11 is signal.
	if e := DecodeEntry([]byte{0, 0, 0, 0, 0x00, 0x01}, LayoutV3); e.Type != TypeEndOfStack {
		t.Errorf("v3 end entry: %+v", e)
	}
	if e := DecodeEntry([]byte{8, 0, 0, 0, 0x05, 0x0a}, LayoutV3); e.Type != TypeCall || !e.Signal || e.SPReg != RegSP {
		t.Errorf("v3 signal call entry: %+v", e)
	}
	// v1 type 3 was never written: reported as unknown, not as a call.
	if e := DecodeEntry([]byte{8, 0, 0, 0, 0x05, 0x03}, LayoutV1); e.Type != typeUnknownOlder {
		t.Errorf("v1 type 3: %+v", e)
	}
}

func TestLayoutForRelease(t *testing.T) {
	for rel, want := range map[string]Layout{
		"5.10.0-32-amd64": LayoutV1, "6.1.0-56-amd64": LayoutV1, "6.3.7": LayoutV2,
		"6.4.0": LayoutV3, "6.12.117+deb13-amd64": LayoutV3, "7.0": LayoutV3, "": LayoutV1, "garbage": LayoutV1,
	} {
		if got := LayoutForRelease(rel); got != want {
			t.Errorf("%q: %v, want %v", rel, got, want)
		}
	}
}

func TestFindLookupAndSearch(t *testing.T) {
	s := newSynth(LayoutV1, 40)
	for i := 0; i < 40; i++ {
		s.orc(fn(i), Entry{SPOffset: 8, SPReg: RegSP, Type: TypeCall})
		s.orc(fn(i)+1, Entry{SPOffset: int16(16 + 8*i), SPReg: RegSP, Type: TypeCall})
	}
	// A weak terminator and a real entry at the same address: the real
	// one (sorted last) wins.
	s.orc(fn(5)+0x40, Entry{SPReg: RegUndefined, Type: TypeUndefined})
	s.orc(fn(5)+0x40, Entry{SPOffset: 99, SPReg: RegSP, Type: TypeCall})
	tab, _ := s.build()
	noLookup := *tab
	noLookup.Lookup, noLookup.LookupBlocks = 0, 0
	for ip := uint64(synthText); ip < synthText+40*funcSize; ip += 7 {
		a, okA, errA := tab.Find(ip)
		b, okB, errB := noLookup.Find(ip)
		if errA != nil || errB != nil || !okA || !okB || a != b {
			t.Fatalf("ip %#x: lookup %+v %v %v, search %+v %v %v", ip, a, okA, errA, b, okB, errB)
		}
	}
	if e, _, _ := tab.Find(fn(7) + 0x20); e.SPOffset != 16+8*7 {
		t.Errorf("fn(7)+0x20: %+v", e)
	}
	if e, _, _ := tab.Find(fn(5) + 0x41); e.SPOffset != 99 {
		t.Errorf("duplicate entry: %+v", e)
	}
	if e, ok, _ := tab.Find(0); !ok || e != nullEntry {
		t.Errorf("ip 0: %+v %v", e, ok)
	}
	if _, ok, err := tab.Find(0xffffffffa0000000); ok || err != nil {
		t.Errorf("outside text: %v %v", ok, err)
	}
	// A hostile orc_lookup value is an error, not a wild read.
	s.mem.Map(synthLookup+0x10000, []byte{})
	bad := *tab
	bad.Lookup = synthLookup + 4
	binaryBad := make([]byte, 8)
	binary.LittleEndian.PutUint32(binaryBad, 0xffffff00)
	s.mem.Map(synthLookup-0x100, binaryBad)
	bad.Lookup = synthLookup - 0x100
	if _, _, err := bad.Find(synthText + 10); err == nil {
		t.Errorf("bad lookup range accepted")
	}
	// Modules: their own table, found through the text ranges.
	tab.Modules = []ModuleORC{{Name: "m", Text: [][2]uint64{{fn(50), fn(60)}}, IP: tab.IPStart, ORC: tab.ORCStart, Num: 2}}
	if _, ok, err := tab.Find(fn(55)); !ok || err != nil {
		t.Errorf("module ip: %v %v", ok, err)
	}
	if !tab.IsText(fn(55)) || tab.IsText(fn(60)+synthTextLen) {
		t.Errorf("IsText of module range")
	}
}

// chain builds f0 <- f1 <- f2 with f2's tail the end of the stack, on one
// task stack, and returns the unwinder and the start registers.
func chain(t *testing.T, l Layout) (Stacks, Regs, *synth, *stackImage) {
	t.Helper()
	s := newSynth(l, 8)
	s.orc(fn(0), Entry{SPOffset: 16, SPReg: RegSP, Type: TypeCall})
	s.orc(fn(1), Entry{SPOffset: 32, SPReg: RegSP, BPReg: RegPrevSP, BPOffset: -16, Type: TypeCall})
	s.orc(fn(2), Entry{SPOffset: 8, SPReg: RegSP, Type: TypeCall})
	s.orc(fn(2)+0x80, Entry{Type: TypeEndOfStack})
	s.orc(fn(3), Entry{Type: TypeUndefined})
	st := newStack(synthStack, 16<<10)
	sp := uint64(synthStack + 0x2000)
	st.set(sp+8, fn(1)+0x20)     // f0's return into f1
	st.set(sp+16+16, 0x1234)     // f1's saved BP (CFA-16)
	st.set(sp+16+24, fn(2)+0x90) // f1's return into f2's end-of-stack tail
	return Stacks{{Kind: StackTask, Begin: st.begin, End: st.end()}}, Regs{IP: fn(0) + 0x10, SP: sp, BP: 0x99, CS: 0x10}, s, st
}

func finish(s *synth, st *stackImage) *Unwinder {
	tab, syms := s.build()
	s.mem.Map(st.begin, st.bytes())
	return &Unwinder{Mem: s.mem, ORC: tab, Syms: syms}
}

func names(tr *Trace) string {
	var out []string
	for _, f := range tr.Frames {
		n := f.Function
		if !f.Reliable {
			n = "?" + n
		}
		out = append(out, n+"/"+string(f.Method))
	}
	return strings.Join(out, " ")
}

func TestWalkChain(t *testing.T) {
	for _, l := range []Layout{LayoutV1, LayoutV2, LayoutV3} {
		stacks, regs, s, st := chain(t, l)
		u := finish(s, st)
		tr := u.Walk(Start{Regs: regs, Full: true, Signal: true, Method: MethodRegs}, stacks)
		want := "fa0/regs fb0/orc fc0/orc"
		if got := names(tr); got != want || tr.End != EndOfStack || !tr.Complete() {
			t.Fatalf("%v: %s (%s %s), want %s", l, got, tr.End, tr.Err, want)
		}
		if f := tr.Frames[1]; f.Offset != 0x20 || f.Size != funcSize || f.SP != regs.SP+16 || f.Symbol() != "fb0+0x20/0x100" {
			t.Errorf("frame 1: %+v %s", f, f.Symbol())
		}
	}
}

func TestWalkRegsFrames(t *testing.T) {
	for _, user := range []bool{false, true} {
		stacks, regs, s, st := chain(t, LayoutV3)
		// f2's tail is an entry stub: pt_regs at SP.
		s.entries = s.entries[:3]
		s.orc(fn(2)+0x80, Entry{SPReg: RegSP, Type: TypeRegs, Signal: true})
		s.orc(fn(4), Entry{SPOffset: 8, SPReg: RegSP, Type: TypeCall})
		s.orc(fn(5), Entry{Type: TypeEndOfStack})
		s.orc(fn(6), Entry{Type: TypeUndefined})
		pt := regs.SP + 16 + 32 // f2's SP after returning from f1
		r := Regs{IP: fn(4) + 0x30, CS: 0x10, SP: pt + PtRegsSize + 64, BP: 0x77, R13: 5}
		if user {
			r.CS, r.IP, r.SP = 0x33, 0x401000, 0x7ffc0000
		}
		words := []uint64{r.R15, r.R14, r.R13, r.R12, r.BP, r.BX, r.R11, r.R10, r.R9, r.R8, r.AX, r.CX, r.DX, r.SI, r.DI, r.OrigAX, r.IP, r.CS, r.Flags, r.SP, r.SS}
		for i, w := range words {
			st.set(pt+8*uint64(i), w)
		}
		if !user {
			st.set(r.SP, fn(5)+0x10)
		}
		u := finish(s, st)
		tr := u.Walk(Start{Regs: regs, Full: true, Signal: true, Method: MethodRegs}, stacks)
		if user {
			if got := names(tr); got != "fa0/regs fb0/orc fc0/orc" || tr.End != EndUser || tr.UserRegs == nil || tr.UserRegs.PC != 0x401000 {
				t.Fatalf("user: %s %s %+v", got, tr.End, tr.UserRegs)
			}
			continue
		}
		if got := names(tr); got != "fa0/regs fb0/orc fc0/orc fe0/orc ff0/orc" || tr.End != EndOfStack {
			t.Fatalf("kernel: %s %s %s", got, tr.End, tr.Err)
		}
		f := tr.Frames[3]
		if f.Regs == nil || f.Regs.PC != r.IP || r13(f.Regs) != 5 || !f.Signal || f.Offset != 0x30 {
			t.Errorf("regs frame: %+v", f)
		}
	}
}

func TestWalkIRQStack(t *testing.T) {
	s := newSynth(LayoutV1, 8)
	// f0 runs on the IRQ stack, called by f1 from the IRQ stack's top; f1
	// got there through call_on_stack(): the task stack's SP is stored at
	// the top word (ORC_REG_SP_INDIRECT).
	s.orc(fn(0), Entry{SPOffset: 8, SPReg: RegSP, Type: TypeCall})
	s.orc(fn(1), Entry{SPOffset: 8, SPReg: RegSPIndirect, Type: TypeCall})
	s.orc(fn(2), Entry{SPOffset: 8, SPReg: RegSP, Type: TypeCall})
	s.orc(fn(3), Entry{Type: TypeEndOfStack})
	irq := newStack(synthIRQ, 16<<10)
	task := newStack(synthStack, 16<<10)
	tos := irq.end() - 8
	taskSP := uint64(synthStack + 0x2000)
	irq.set(tos, taskSP)         // saved task SP
	irq.set(tos-8, fn(1)+0x10)   // f0 returns into f1 (SP then = tos)
	task.set(taskSP, fn(2)+0x10) // f1's CFA = *tos + 8: return into f2
	task.set(taskSP+8, fn(3)+0x10)
	s.mem.Map(irq.begin, irq.bytes())
	u := finish(s, task)
	stacks := Stacks{{Kind: StackTask, Begin: task.begin, End: task.end()}, {Kind: StackIRQ, Begin: irq.begin, End: irq.end(), Link: tos}}
	tr := u.Walk(Start{Regs: Regs{IP: fn(0) + 4, SP: tos - 8, CS: 0x10}, Full: true, Signal: true, Method: MethodRegs}, stacks)
	if got := names(tr); got != "fa0/regs fb0/orc fc0/orc fd0/orc" || tr.End != EndOfStack {
		t.Fatalf("%s %s %s", got, tr.End, tr.Err)
	}
	if tr.Frames[1].Stack != StackIRQ || tr.Frames[2].Stack != StackTask {
		t.Errorf("stacks: %s %s", tr.Frames[1].Stack, tr.Frames[2].Stack)
	}
}

func TestWalkCallSiteAndFramePointer(t *testing.T) {
	for _, withCall := range []bool{true, false} {
		stacks, regs, s, st := chain(t, LayoutV1)
		// f0 has no usable ORC data (an objtool hole).
		s.entries[0] = orcAt{fn(0), Entry{Type: TypeUndefined}}
		bp := regs.SP + 0x40
		regs.BP = bp
		st.set(bp, 0x5555)       // saved BP
		st.set(bp+8, fn(1)+0x20) // return address into f1, found by both methods
		st.set(bp+16+16, 0x1234) // f1's frame above
		st.set(bp+16+24, fn(2)+0x90)
		st.set(regs.SP+8, 0) // no stale return address below
		if withCall {
			s.call(fn(1)+0x20, fn(0))
		}
		u := finish(s, st)
		tr := u.Walk(Start{Regs: regs, Full: true, Signal: true, Method: MethodRegs}, stacks)
		want := "fa0/regs fb0/call-site fc0/orc"
		if !withCall {
			want = "fa0/regs ?fb0/frame-pointer ?fc0/orc"
		}
		if got := names(tr); got != want || tr.End != EndOfStack {
			t.Errorf("call=%v: %s (%s %s), want %s", withCall, got, tr.End, tr.Err, want)
		}
		if !strings.Contains(tr.Err, "undefined") {
			t.Errorf("error not reported: %q", tr.Err)
		}
	}
}

func TestWalkMissingPageScans(t *testing.T) {
	stacks, regs, s, st := chain(t, LayoutV1)
	tab, syms := s.build()
	// Map the stack without the page holding f0's return address; a text
	// address further up is what the scan finds.
	page := (regs.SP + 8 - st.begin) &^ 0xfff
	st.set(st.begin+page+0x1100, fn(6)+0x8)
	b := st.bytes()
	s.mem.Map(st.begin, b[:page])
	s.mem.Map(st.begin+page+0x1000, b[page+0x1000:])
	u := &Unwinder{Mem: s.mem, ORC: tab, Syms: syms}
	tr := u.Walk(Start{Regs: regs, Full: true, Signal: true, Method: MethodRegs}, stacks)
	if tr.End != EndScan || len(tr.Frames) != 2 || tr.Frames[1].Method != MethodScan || tr.Frames[1].Reliable || tr.Frames[1].Function != "fg0" {
		t.Fatalf("%s %s %s", names(tr), tr.End, tr.Err)
	}
}

func TestWalkHostile(t *testing.T) {
	// An entry that does not move SP: the loop check stops ORC.
	stacks, regs, s, st := chain(t, LayoutV3)
	s.entries[1] = orcAt{fn(1), Entry{SPOffset: 0, SPReg: RegSP, Type: TypeCall}}
	st.set(regs.SP+8, fn(1)+0x20)
	st.set(regs.SP+16-8, fn(1)+0x20)
	u := finish(s, st)
	tr := u.Walk(Start{Regs: regs, Full: true, Signal: true, Method: MethodRegs}, stacks)
	if !strings.Contains(tr.Err, "wrong direction") {
		t.Errorf("loop not reported: %s %s", names(tr), tr.Err)
	}
	// Endless recursion: bounded by MaxDepth.
	stacks, regs, s, st = chain(t, LayoutV3)
	s.entries[1] = orcAt{fn(1), Entry{SPOffset: 8, SPReg: RegSP, Type: TypeCall}}
	for a := regs.SP + 8; a < st.end(); a += 8 {
		st.set(a, fn(1)+0x20)
	}
	u = finish(s, st)
	u.MaxDepth = 10
	tr = u.Walk(Start{Regs: regs, Full: true, Signal: true, Method: MethodRegs}, stacks)
	if len(tr.Frames) != 10 || tr.End != EndDepth {
		t.Errorf("depth: %d frames, %s", len(tr.Frames), tr.End)
	}
	// A huge frame leaves the stack: the unknown region is not the task's.
	stacks, regs, s, st = chain(t, LayoutV3)
	s.entries[0] = orcAt{fn(0), Entry{SPOffset: 0x7ff0, SPReg: RegSP, Type: TypeCall}}
	u = finish(s, st)
	tr = u.Walk(Start{Regs: regs, Full: true, Signal: true, Method: MethodRegs}, stacks)
	if len(tr.Frames) == 0 || tr.Frames[0].Function != "fa0" {
		t.Errorf("huge frame: %s", names(tr))
	}
	// User-mode start registers: no kernel frames.
	tr = u.Walk(Start{Regs: Regs{IP: 0x400000, CS: 0x33, SP: 0x7fff0000}, Full: true, Signal: true}, stacks)
	if len(tr.Frames) != 0 || tr.End != EndUser || tr.UserRegs == nil {
		t.Errorf("user start: %+v", tr)
	}
	// A start SP on no stack.
	u.Mem = s.mem
	tr = u.Walk(Start{Regs: Regs{IP: fn(0), CS: 0x10, SP: 0xffff888000000000}, Full: true, Signal: true}, Stacks{})
	if tr.End != EndNoStack {
		t.Errorf("no stack: %+v", tr)
	}
}

func r13(r *arch.Regs) uint64 {
	v, _ := r.Get("r13")
	return v
}

func TestRegsJSONAndLines(t *testing.T) {
	r := Regs{IP: 0xffffffff81000000, CS: 0x10, R15: 1}
	b, err := neutral(&r).MarshalJSON()
	if err != nil || !strings.Contains(string(b), `"rip":"0xffffffff81000000"`) || !strings.Contains(string(b), `"r15":"0x1"`) {
		t.Errorf("%s %v", b, err)
	}
	p := Regs{IP: 1, Partial: true}
	b, _ = neutral(&p).MarshalJSON()
	if strings.Contains(string(b), "rax") {
		t.Errorf("partial: %s", b)
	}
	if len(r.Lines()) != 7 || len(p.Lines()) != 2 {
		t.Errorf("lines")
	}
	if !reflect.DeepEqual(x86.DecodePtRegs(make([]byte, PtRegsSize)), Regs{}) {
		t.Errorf("decode zero")
	}
}

func TestFormat(t *testing.T) {
	stacks, regs, s, st := chain(t, LayoutV1)
	u := finish(s, st)
	tr := u.Walk(Start{Regs: regs, Full: true, Signal: true, Method: MethodRegs}, stacks)
	out := tr.String()
	for _, want := range []string{" #0 [", "fa0+0x10/0x100", "fb0+0x20/0x100", "(end of stack, complete)"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if got := tr.Functions(true); !reflect.DeepEqual(got, []string{"fa0", "fb0", "fc0"}) {
		t.Errorf("functions %v", got)
	}
}

func TestHandlerFrames(t *testing.T) {
	s := newSynth(LayoutV1, 12)
	s.orc(fn(0), Entry{SPOffset: 8, SPReg: RegSP, Type: TypeCall})
	s.orc(fn(6), Entry{SPReg: RegSP, Type: TypeRegs, Signal: true}) // entry code: pt_regs at SP
	s.orc(fn(7), Entry{SPOffset: 0x20, SPReg: RegSP, Type: TypeCall})
	s.orc(fn(8), Entry{SPOffset: 0x10, SPReg: RegSP, Type: TypeCall})
	s.orc(fn(9), Entry{SPOffset: 0x8, SPReg: RegSP, Type: TypeCall})
	s.orc(fn(10), Entry{SPOffset: 0x10, SPReg: RegSP, Type: TypeCall})
	s.call(fn(6)+0x10, fn(7)) // entry calls the C handler
	s.call(fn(7)+0x30, fn(8)) // which calls the callback
	s.call(fn(8)+0x20, fn(9)) // which calls a leaf and sits in it
	s.call(fn(10)+0x20, fn(0))
	nmi := newStack(synthIRQ+0x10000, 8<<10)
	regs := Regs{IP: fn(0) + 4, CS: 0x10, SP: synthStack + 0x3000, Flags: 0x246, BP: 1, R12: 2, SS: 0x18}
	p := nmi.end() - 0x100
	words := []uint64{regs.R15, regs.R14, regs.R13, regs.R12, regs.BP, regs.BX, regs.R11, regs.R10, regs.R9, regs.R8,
		regs.AX, regs.CX, regs.DX, regs.SI, regs.DI, regs.OrigAX, regs.IP, regs.CS, regs.Flags, regs.SP, regs.SS}
	for i, w := range words {
		nmi.set(p+8*uint64(i), w)
	}
	nmi.set(p-8, fn(6)+0x10)
	s1 := p - 0x28
	nmi.set(s1, fn(7)+0x30)
	s2 := s1 - 0x10
	nmi.set(s2, fn(8)+0x20)
	nmi.set(s2-0x10, fn(10)+0x20) // a returned call of another function: rejected
	task := newStack(synthStack, 16<<10)
	task.set(regs.SP+8-8, fn(1)+0x10)
	s.mem.Map(nmi.begin, nmi.bytes())
	u := finish(s, task)
	stacks := Stacks{{Kind: StackTask, Begin: task.begin, End: task.end()},
		{Kind: "NMI", Begin: nmi.begin, End: nmi.end(), Link: nmi.end() - PtRegsSize, LinkRegs: true}}
	h := u.HandlerFrames(regs, stacks)
	var got []string
	for _, f := range h {
		got = append(got, f.Function)
		if f.Reliable || f.Method != MethodHandler || f.Stack != "NMI" {
			t.Errorf("frame %+v", f)
		}
	}
	if strings.Join(got, " ") != "fi0 fh0 fg0" {
		t.Errorf("handler frames %v", got)
	}
	// Registers found nowhere: no handler.
	regs.IP++
	if h := u.HandlerFrames(regs, stacks); h != nil {
		t.Errorf("handler for unmatched registers: %v", h)
	}

	// A tail call: fn(9) (called by fn(8)) jumps to fn(11), whose frame
	// then sits where fn(9)'s would; its return address (into fn(11),
	// after a call of fn(0)) is accepted, and the stale fn(10) one stays
	// rejected.
	regs.IP--
	s.orc(fn(11), Entry{SPOffset: 0x10, SPReg: RegSP, Type: TypeCall})
	s.call(fn(11)+0x20, fn(0))
	off := fn(9) + 0x40 - synthText
	s.text[off] = 0xe9 // jmp rel32 to fn(11)
	binary.LittleEndian.PutUint32(s.text[off+1:], uint32(int32(int64(fn(11)-(fn(9)+0x45)))))
	nmi.set(s2-0x10, fn(11)+0x20)
	s.mem.Map(nmi.begin, nmi.bytes())
	u = finish(s, task)
	got = nil
	for _, f := range u.HandlerFrames(regs, stacks) {
		got = append(got, f.Function)
	}
	if strings.Join(got, " ") != "fl0 fi0 fh0 fg0" {
		t.Errorf("handler frames through a tail call %v", got)
	}
}

func TestInterleave(t *testing.T) {
	stacks, regs, s, st := chain(t, LayoutV1)
	st.set(regs.SP, fn(5)+0x40)      // a stale return address in f0's frame
	st.set(regs.SP+16+8, fn(6)+0x10) // and one in f1's
	st.set(regs.SP+16+40, fn(7)+0x8) // above the last frame
	u := finish(s, st)
	u.Interleave = true
	tr := u.Walk(Start{Regs: regs, Full: true, Signal: true, Method: MethodRegs}, stacks)
	want := "fa0/regs ?ff0/stack-scan fb0/orc ?fg0/stack-scan fc0/orc ?fh0/stack-scan"
	if got := names(tr); got != want || !tr.Complete() {
		t.Errorf("%s (complete %v), want %s", got, tr.Complete(), want)
	}
}
