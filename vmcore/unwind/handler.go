package unwind

import (
	"encoding/binary"
	"strings"
)

// MethodHandler marks frames of an exception handler rebuilt from its IST
// stack (see HandlerFrames). They are never reliable.
const MethodHandler Method = "exception-stack"

// Bounds of the handler reconstruction.
const (
	maxHandlerFrames = 32
	maxHandlerFrame  = 4096 // bytes searched below a frame for its callee's return address
)

// HandlerFrames looks for regs, a CPU's saved registers, as a struct pt_regs
// on one of the CPU's exception (IST) stacks, and rebuilds the handler that
// is still running above it, innermost first.
//
// The other CPUs of a kdump: native_machine_crash_shutdown() ->
// nmi_shootdown_cpus() sends an NMI to every other CPU, whose
// crash_nmi_callback() -> kdump_nmi_callback() -> crash_save_cpu() saves the
// pt_regs the NMI entry code pushed (arch/x86/kernel/crash.c,
// arch/x86/kernel/reboot.c). The dump's registers are therefore the context
// the NMI interrupted, not where the CPU is: it is halted in
// crash_nmi_callback() on its NMI stack, and nothing saved that position.
// The pt_regs copy is still on the NMI stack, though, and the entry code
// called the C handler right below it (asm_exc_nmi: movq %rsp, %rdi; call
// exc_nmi), so the return address at pt_regs-8 starts the chain. Each next
// frame is the highest stack word below the current frame that is a return
// address (preceded by a call instruction) whose ORC entry puts its caller's
// frame exactly where the current one starts. The innermost frame found is
// the last call the halted function made (its offset is not where it sits),
// and a deeper chain of calls that already returned can also satisfy the
// test, so every frame is marked unreliable.
func (u *Unwinder) HandlerFrames(regs Regs, stacks Stacks) []Frame {
	if u.ORC == nil || regs.IP == 0 {
		return nil
	}
	for _, s := range stacks {
		// An IST stack holds its entry pt_regs; so does the interrupted
		// stack of a kernel-mode exception that was not IST (a page fault,
		// an invalid opcode): oops_end() -> crash_kexec(regs) saves a copy
		// of them (crash_setup_regs()), and the handler that called
		// crash_kexec() ran below them on the same stack.
		kernelMode := regs.CS&3 == 0 && regs.CS != 0
		if !s.LinkRegs && !(kernelMode && s.Contains(regs.SP, 8)) {
			continue
		}
		m := loadStack(u.Mem, s)
		p, ok := findPtRegs(m, regs)
		if !ok {
			continue
		}
		entry, ok := m.word(p - 8)
		if !ok || !u.isText(entry) {
			continue
		}
		if e, found, err := u.ORC.Find(entry - 1); err != nil || !found || e.SPReg != RegSP || e.SPOffset != 0 ||
			(e.Type != TypeRegs && e.Type != TypeRegsPartial) {
			continue
		}
		frames := []Frame{u.frame(entry, p, false, MethodHandler, false, s.Kind)}
		cfa, prev := p, entry
		for len(frames) < maxHandlerFrames {
			slot, ret, ok := u.calleeSlot(m, cfa, prev)
			if !ok {
				break
			}
			frames = append(frames, u.frame(ret, slot+8, false, MethodHandler, false, s.Kind))
			cfa, prev = slot+8, ret
		}
		for i, j := 0, len(frames)-1; i < j; i, j = i+1, j-1 {
			frames[i], frames[j] = frames[j], frames[i]
		}
		return frames
	}
	return nil
}

// findPtRegs finds the 21 words of regs on the stack, highest first.
func findPtRegs(m *stackMem, regs Regs) (uint64, bool) {
	want := [21]uint64{regs.R15, regs.R14, regs.R13, regs.R12, regs.BP, regs.BX, regs.R11, regs.R10, regs.R9, regs.R8,
		regs.AX, regs.CX, regs.DX, regs.SI, regs.DI, regs.OrigAX, regs.IP, regs.CS, regs.Flags, regs.SP, regs.SS}
	buf := make([]byte, PtRegsSize)
	if m.End-m.Begin < PtRegsSize {
		return 0, false
	}
	for p := m.End - PtRegsSize; p >= m.Begin+8 && p < m.End; p -= 8 {
		if !m.bytes(buf, p) {
			continue
		}
		match := true
		for i, w := range want {
			if binary.LittleEndian.Uint64(buf[8*i:]) != w {
				match = false
				break
			}
		}
		if match {
			return p, true
		}
	}
	return 0, false
}

// calleeSlot finds the frame of the function called right before the return
// address prev, whose CFA is cfa: below cfa, the slot holding a return
// address into that function (right after a call instruction) whose ORC
// entry (a call frame based on SP) gives back cfa. When the call before prev
// is a direct one, the return address must be inside its target: a frame
// left by a call that already returned fails this test.
func (u *Unwinder) calleeSlot(m *stackMem, cfa, prev uint64) (slot, ret uint64, ok bool) {
	if slot, ret, ok := u.calleeSlotIn(m, cfa, prev, true); ok {
		return slot, ret, true
	}
	// A tail call (do_user_addr_fault() jumping to page_fault_oops())
	// leaves a frame whose function is not the one called: the ORC match
	// of its frame alone places it.
	return u.calleeSlotIn(m, cfa, prev, false)
}

func (u *Unwinder) calleeSlotIn(m *stackMem, cfa, prev uint64, calledOnly bool) (slot, ret uint64, ok bool) {
	if cfa < m.Begin+16 {
		return 0, 0, false
	}
	low := m.Begin
	if cfa-maxHandlerFrame > low && cfa > maxHandlerFrame {
		low = cfa - maxHandlerFrame
	}
	for s := cfa - 16; s >= low && s < cfa; s -= 8 {
		v, ok := m.word(s)
		if !ok || !u.isText(v) || !u.afterCall(v) {
			continue
		}
		if calledOnly && !u.insideCallee(prev, v) {
			continue
		}
		if !calledOnly && !u.tailCalled(prev, v) {
			continue
		}
		e, found, err := u.ORC.Find(v - 1)
		if err != nil || !found || e.Type != TypeCall || e.SPReg != RegSP {
			continue
		}
		if s+8+uint64(int64(e.SPOffset)) == cfa {
			return s, v, true
		}
	}
	return 0, 0, false
}

// afterCall reports whether a call instruction ends at ret: E8 rel32, or
// FF /2 (call *%reg, *%r8-15, *disp32(%rip)).
func (u *Unwinder) afterCall(ret uint64) bool {
	if ret < 6 {
		return false
	}
	var b [6]byte
	if err := u.Mem.ReadVirt(b[:], ret-6); err != nil {
		return false
	}
	switch {
	case b[1] == 0xe8: // call rel32
		return true
	case b[4] == 0xff && b[5]&0xf8 == 0xd0: // call *%rax..%rdi
		return true
	case b[3] == 0x41 && b[4] == 0xff && b[5]&0xf8 == 0xd0: // call *%r8..%r15
		return true
	case b[0] == 0xff && b[1] == 0x15: // call *disp32(%rip)
		return true
	}
	return false
}

// insideCallee reports whether the return address ret lies in the function
// that the call ending at prev called. Calls through retpoline thunks (E8 to
// __x86_indirect_thunk_*) and indirect calls cannot tell, and pass.
func (u *Unwinder) insideCallee(prev, ret uint64) bool {
	if u.Syms == nil || prev < 5 {
		return true
	}
	var b [5]byte
	if err := u.Mem.ReadVirt(b[:], prev-5); err != nil || b[0] != 0xe8 {
		return true
	}
	target := prev + uint64(int64(int32(binary.LittleEndian.Uint32(b[1:]))))
	t, _, ok := u.Syms.ByAddr(target)
	if !ok {
		return true
	}
	if strings.HasPrefix(t.Name, "__x86_indirect_") || strings.HasPrefix(t.Name, "__x86_indirect_call_thunk") {
		return true
	}
	c, _, ok := u.Syms.ByAddr(ret - 1)
	return ok && c.Addr == t.Addr
}

// maxScanFunction bounds the bytes tailCalled reads of one function.
const maxScanFunction = 16 << 10

// tailCalled reports whether the function prev's call instruction called
// jumps straight (jmp rel32 or jcc rel32) to the start of the function
// holding ret: do_user_addr_fault() "jmp page_fault_oops" leaves no frame
// of its own, so page_fault_oops' frame sits where it was. A frame of any
// other function below prev's is a call that already returned.
func (u *Unwinder) tailCalled(prev, ret uint64) bool {
	if u.Syms == nil || prev < 5 {
		return false
	}
	var b [5]byte
	if err := u.Mem.ReadVirt(b[:], prev-5); err != nil || b[0] != 0xe8 {
		return false
	}
	called, _, ok1 := u.Syms.ByAddr(prev + uint64(int64(int32(binary.LittleEndian.Uint32(b[1:])))))
	callee, _, ok2 := u.Syms.ByAddr(ret - 1)
	if !ok1 || !ok2 || called.Size == 0 || called.Size > maxScanFunction {
		return false
	}
	code := make([]byte, called.Size)
	if err := u.Mem.ReadVirt(code, called.Addr); err != nil {
		return false
	}
	for i := 0; i+5 <= len(code); i++ {
		n := 0
		switch {
		case code[i] == 0xe9: // jmp rel32
			n = 1
		case code[i] == 0x0f && i+6 <= len(code) && code[i+1]&0xf0 == 0x80: // jcc rel32
			n = 2
		default:
			continue
		}
		next := called.Addr + uint64(i+n+4)
		if next+uint64(int64(int32(binary.LittleEndian.Uint32(code[i+n:])))) == callee.Addr {
			return true
		}
	}
	return false
}
