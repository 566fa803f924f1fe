package unwind

// The x86_64 ORC walker: unwind_next_frame() of arch/x86/kernel/unwind_orc.c
// over the ORC tables the kernel keeps in its memory. Where ORC has no entry
// or a page is missing it falls back to a call-site search, a frame-pointer
// guess and then a scan of the stack for text addresses.

import (
	"encoding/binary"
	"fmt"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/vmem"
	"github.com/panicscope/panicscope/vmcore/x86"
)

// Start is where a walk begins.
type Start struct {
	Regs Regs
	// Full: every register in Regs is known (a CPU's saved registers), so
	// ORC entries based on R10, R13, DI or DX can be followed.
	Full bool
	// Signal: Regs.IP is not a return address.
	Signal bool
	Method Method
}

// Unwinder walks stacks. Mem and Syms are required; ORC may be nil (only
// frame pointers and scanning are then used).
type Unwinder struct {
	Mem      vmem.Reader
	ORC      *Table
	Syms     Symbolizer
	MaxDepth int
	// ThreadSize is THREAD_SIZE, the size of a stack whose bounds the
	// StackFinder does not know (16 KiB when 0).
	ThreadSize uint64
	// Interleave adds, like the kernel's show_trace_log_lvl(), every other
	// text address found on the stack between the frames, as unreliable
	// MethodScan frames ("? func" in kernel traces: stale return addresses).
	Interleave bool
}

func (u *Unwinder) maxDepth() int {
	if u.MaxDepth > 0 {
		return u.MaxDepth
	}
	return DefaultMaxDepth
}

func (u *Unwinder) threadSize() uint64 {
	if u.ThreadSize >= pageSize && u.ThreadSize <= maxStackSize && u.ThreadSize&(u.ThreadSize-1) == 0 {
		return u.ThreadSize
	}
	return 16 << 10
}

// isText reports whether addr is kernel text: the ORC table's ranges, else a
// text symbol.
func (u *Unwinder) isText(addr uint64) bool {
	if u.ORC != nil && (u.ORC.TextEnd > u.ORC.TextStart) {
		return u.ORC.IsText(addr)
	}
	if u.Syms == nil {
		return false
	}
	s, _, ok := u.Syms.ByAddr(addr)
	return ok && (s.Type == 't' || s.Type == 'T')
}

// frame symbolizes a frame at pc.
func (u *Unwinder) frame(pc, sp uint64, signal bool, m Method, reliable bool, stack string) Frame {
	f := Frame{PC: pc, SP: sp, Signal: signal, Method: m, Reliable: reliable, Stack: stack}
	if u.Syms == nil {
		return f
	}
	look := pc
	if !signal && pc > 0 {
		look = pc - 1 // a return address: the call is before it (sprint_backtrace())
	}
	if s, _, ok := u.Syms.ByAddr(look); ok {
		f.Function, f.Offset, f.Size, f.Module = s.Name, pc-s.Addr, s.Size, s.Module
	}
	return f
}

// Walk unwinds from start over the stacks finder knows.
func (u *Unwinder) Walk(start Start, finder StackFinder) *Trace {
	w := &walker{u: u, finder: finder, visited: map[string]bool{}, tr: &Trace{arch: x86.Arch}}
	w.run(start)
	if u.Interleave {
		w.interleave()
	}
	return w.tr
}

// walker is struct unwind_state plus the stacks read so far.
type walker struct {
	u      *Unwinder
	finder StackFinder
	tr     *Trace

	loaded  []*stackMem
	visited map[string]bool
	cur     *stackMem

	ip, sp, bp uint64
	regs       *Regs
	fullRegs   bool
	prevRegs   *Regs
	signal     bool
	guessed    bool // a frame-pointer guess was made: later frames are unreliable
	lastAt     uint64
	endAt      uint64 // the user-mode pt_regs the walk ended at
}

func (w *walker) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if w.tr.Err == "" {
		w.tr.Err = msg
	} else {
		w.tr.Err += "; " + msg
	}
}

func stackKey(s Stack) string {
	if s.Kind == StackUnknown {
		return fmt.Sprintf("%s@%#x", s.Kind, s.Begin)
	}
	return s.Kind
}

// stackFor is stack_access_ok(): the stack holding [addr, addr+n), which
// becomes the current one. A stack other than the current one may be
// entered only once per walk (get_stack_info()'s visit mask).
func (w *walker) stackFor(addr, n uint64) (*stackMem, bool) {
	if w.cur != nil && w.cur.Contains(addr, n) {
		return w.cur, true
	}
	s, ok := Stack{}, false
	if w.finder != nil {
		s, ok = w.finder.StackOf(addr)
	}
	if !ok {
		ts := w.u.threadSize()
		s = Stack{Kind: StackUnknown, Begin: addr &^ (ts - 1)}
		s.End = s.Begin + ts
		if s.End < s.Begin { // wrapped at the top of the address space
			return nil, false
		}
	}
	if !s.Contains(addr, n) || w.visited[stackKey(s)] || len(w.loaded) >= maxStackReads {
		return nil, false
	}
	m := loadStack(w.u.Mem, s)
	if s.Kind == StackUnknown {
		// A guessed region counts only if the word asked for is there.
		if _, ok := m.word(addr &^ 7); !ok {
			return nil, false
		}
	}
	w.visited[stackKey(s)] = true
	w.loaded = append(w.loaded, m)
	w.cur = m
	return m, true
}

// deref is deref_stack_reg().
func (w *walker) deref(addr uint64) (uint64, bool) {
	m, ok := w.stackFor(addr, 8)
	if !ok {
		return 0, false
	}
	return m.word(addr)
}

func (w *walker) readRegs(addr uint64, partial bool) (*Regs, bool) {
	n := uint64(PtRegsSize)
	at := addr
	if partial {
		n, at = iretFrameSize, addr // addr is &regs->ip
	}
	m, ok := w.stackFor(at, n)
	if !ok {
		return nil, false
	}
	buf := make([]byte, n)
	if !m.bytes(buf, at) {
		return nil, false
	}
	var r Regs
	if partial {
		r = x86.DecodeIret(buf)
	} else {
		r = x86.DecodePtRegs(buf)
	}
	return &r, true
}

// getReg is get_reg(): a register from the last full pt_regs frame.
func (w *walker) getReg(off int) (uint64, bool) {
	switch {
	case w.regs == nil:
		return 0, false
	case w.fullRegs:
		return regAt(w.regs, off), true
	case w.prevRegs != nil:
		return regAt(w.prevRegs, off), true
	}
	return 0, false
}

func (w *walker) curKind() string {
	if w.cur == nil {
		return StackUnknown
	}
	return w.cur.Kind
}

func (w *walker) emit(f Frame) bool {
	if len(w.tr.Frames) >= w.u.maxDepth() {
		w.tr.End = EndDepth
		return false
	}
	w.tr.Frames = append(w.tr.Frames, f)
	return true
}

func (w *walker) run(start Start) {
	r := start.Regs
	w.ip, w.sp, w.bp, w.signal = r.IP, r.SP, r.BP, start.Signal
	if start.Full {
		w.regs, w.fullRegs = &r, true
	}
	if start.Full && r.UserMode() {
		w.tr.UserRegs = neutral(&r)
		w.tr.End = EndUser
		return
	}
	if _, ok := w.stackFor(w.sp, 8); !ok {
		// __unwind_start(): maybe an overflow into the guard page; try the
		// page above.
		if _, ok := w.stackFor((w.sp+pageSize)&^(pageSize-1), 8); !ok {
			w.tr.End = EndNoStack
			w.fail("stack pointer %#x is on no readable kernel stack", w.sp)
			return
		}
		w.guessed = true
	}
	if !w.emit(w.u.frame(w.ip, w.sp, w.signal, start.Method, !w.guessed, w.curKind())) {
		return
	}
	for {
		if w.regs != nil && w.regs.UserMode() {
			w.tr.UserRegs = neutral(w.regs)
			w.tr.End = EndUser
			w.endAt = w.lastAt
			return
		}
		res := w.orcStep()
		switch res.kind {
		case stepEnd:
			w.tr.End = EndOfStack
			return
		case stepOK:
			if w.regs != nil && res.regs && w.regs.UserMode() {
				continue // entered from user space: ends at the top of the loop
			}
			var rc *arch.Regs
			if res.regs {
				rc = neutral(w.regs)
			}
			f := w.u.frame(w.ip, w.sp, w.signal, MethodORC, !w.guessed, w.curKind())
			f.Regs, f.at = rc, w.lastAt
			if !w.emit(f) {
				return
			}
			continue
		}
		// ORC could not go on: look for the return address of a call to
		// this function, then the frame-pointer guess, then a scan.
		w.fail("%s at %s", res.why, w.u.frame(w.ip, w.sp, w.signal, MethodORC, true, "").Symbol())
		fn, hasFn := w.u.functionStart(w.ip, w.signal)
		if hasFn && w.callSiteStep(fn) {
			f := w.u.frame(w.ip, w.sp, false, MethodCallSite, !w.guessed, w.curKind())
			f.at = w.lastAt
			if !w.emit(f) {
				return
			}
			continue
		}
		if w.fpStep() {
			// A guess, unless the return address it found comes right
			// after a direct call to the function being left.
			if !hasFn || !w.u.callsTo(w.ip, fn) {
				w.guessed = true
			}
			f := w.u.frame(w.ip, w.sp, false, MethodFP, !w.guessed, w.curKind())
			f.at = w.lastAt
			if !w.emit(f) {
				return
			}
			continue
		}
		w.scan()
		return
	}
}

type stepKind int

const (
	stepOK stepKind = iota
	stepEnd
	stepFail
)

type stepResult struct {
	kind stepKind
	regs bool // the step went through a pt_regs frame
	why  string
}

// orcStep is unwind_next_frame() for one ORC entry.
func (w *walker) orcStep() stepResult {
	look := w.ip
	if !w.signal {
		look = w.ip - 1
	}
	if w.u.ORC == nil {
		return stepResult{kind: stepFail, why: "no ORC tables"}
	}
	e, ok, err := w.u.ORC.Find(look)
	if err != nil {
		return stepResult{kind: stepFail, why: fmt.Sprintf("ORC table unreadable (%v)", err)}
	}
	if !ok {
		return stepResult{kind: stepFail, why: "no ORC entry"}
	}
	switch e.Type {
	case TypeUndefined:
		return stepResult{kind: stepFail, why: "ORC entry undefined (unwind hint hole)"}
	case TypeEndOfStack:
		return stepResult{kind: stepEnd}
	}
	return w.apply(e)
}

// fpStep applies orc_fp_entry; apply accepts it only if it lands on a text
// address above the current frame.
func (w *walker) fpStep() bool {
	if w.bp == 0 {
		return false
	}
	return w.apply(fpEntry).kind == stepOK
}

// apply moves the state one frame out by entry e; on failure the state is
// unchanged (the stacks read stay cached).
func (w *walker) apply(e Entry) stepResult {
	bad := func(format string, args ...any) stepResult {
		return stepResult{kind: stepFail, why: fmt.Sprintf(format, args...)}
	}
	prevKind, prevBegin, prevSP := w.curKind(), uint64(0), w.sp
	if w.cur != nil {
		prevBegin = w.cur.Begin
	}
	cur := w.cur
	var sp uint64
	indirect := false
	switch e.SPReg {
	case RegSP:
		sp = w.sp + uint64(int64(e.SPOffset))
	case RegBP:
		sp = w.bp + uint64(int64(e.SPOffset))
	case RegSPIndirect:
		sp, indirect = w.sp, true
	case RegBPIndirect:
		sp, indirect = w.bp+uint64(int64(e.SPOffset)), true
	case RegR10, RegR13, RegDI, RegDX:
		off := map[uint8]int{RegR10: offR10, RegR13: offR13, RegDI: offDI, RegDX: offDX}[e.SPReg]
		v, ok := w.getReg(off)
		if !ok {
			return bad("ORC needs a register (%d) no pt_regs frame saved", e.SPReg)
		}
		sp = v
	default:
		return bad("unknown ORC SP base register %d", e.SPReg)
	}
	restore := func() { w.cur = cur }
	if indirect {
		v, ok := w.deref(sp)
		if !ok {
			restore()
			return bad("stack word %#x unreadable", sp)
		}
		sp = v
		if e.SPReg == RegSPIndirect {
			sp += uint64(int64(e.SPOffset))
		}
	}
	var ip, newSP uint64
	var regs, prevRegs *Regs
	fullRegs, throughRegs := false, false
	switch e.Type {
	case TypeCall:
		v, ok := w.deref(sp - 8)
		if !ok {
			restore()
			return bad("return address at %#x unreadable", sp-8)
		}
		ip, newSP = v, sp
	case TypeRegs:
		r, ok := w.readRegs(sp, false)
		if !ok {
			restore()
			return bad("pt_regs at %#x unreadable", sp)
		}
		ip, newSP, regs, fullRegs, throughRegs = r.IP, r.SP, r, true, true
	case TypeRegsPartial:
		r, ok := w.readRegs(sp, true)
		if !ok {
			restore()
			return bad("IRET frame at %#x unreadable", sp)
		}
		ip, newSP, regs, throughRegs = r.IP, r.SP, r, true
		if w.fullRegs {
			prevRegs = w.regs
		}
	default:
		return bad("unknown ORC entry type %d", e.Type)
	}
	bp := w.bp
	switch e.BPReg {
	case RegUndefined:
		// get_reg(bp) from the pt_regs just found (or kept).
		switch {
		case regs != nil && fullRegs:
			bp = regs.BP
		case regs != nil && prevRegs != nil:
			bp = prevRegs.BP
		case regs == nil && e.Type == TypeCall:
			// unwind_next_frame() clears state->regs on a call frame
			// before reading BP, so BP stays.
		}
	case RegPrevSP:
		v, ok := w.deref(sp + uint64(int64(e.BPOffset)))
		if !ok {
			restore()
			return bad("saved BP at %#x unreadable", sp+uint64(int64(e.BPOffset)))
		}
		bp = v
	case RegBP:
		v, ok := w.deref(w.bp + uint64(int64(e.BPOffset)))
		if !ok {
			restore()
			return bad("saved BP at %#x unreadable", w.bp+uint64(int64(e.BPOffset)))
		}
		bp = v
	default:
		restore()
		return bad("unknown ORC BP base register %d", e.BPReg)
	}
	// "Prevent a recursive loop due to bad ORC data": on the same stack
	// the stack pointer must grow.
	if w.cur != nil && w.cur.Kind == prevKind && w.cur.Begin == prevBegin && w.cur.Contains(newSP, 8) && newSP <= prevSP {
		restore()
		return bad("stack going in the wrong direction (SP %#x -> %#x)", prevSP, newSP)
	}
	if !throughRegs && !w.u.isText(ip) {
		restore()
		return bad("return address %#x at %#x is not kernel text", ip, sp-8)
	}
	if throughRegs && !regs.UserMode() && ip != 0 && !w.u.isText(ip) {
		restore()
		return bad("interrupted IP %#x is not kernel text", ip)
	}
	w.ip, w.sp, w.bp = ip, newSP, bp
	switch e.Type {
	case TypeCall:
		w.lastAt = sp - 8
	case TypeRegs:
		w.lastAt = sp
	default:
		w.lastAt = sp - iretFrameOffset
	}
	if e.Type == TypeCall {
		w.regs, w.prevRegs, w.fullRegs = nil, nil, false
	} else {
		w.regs, w.prevRegs, w.fullRegs = regs, prevRegs, fullRegs
	}
	w.signal = e.Signal
	return stepResult{kind: stepOK, regs: throughRegs}
}

// scan lists the text addresses on the stack from SP up, following the link
// to the previous stack at the top of IRQ and exception stacks, as the
// kernel's show_trace_log_lvl() prints them with "?".
func (w *walker) scan() {
	m, ok := w.stackFor(w.sp, 8)
	if !ok {
		w.tr.End = EndError
		return
	}
	addr := w.sp &^ 7
	for {
		for ; addr+8 <= m.End; addr += 8 {
			v, ok := m.word(addr)
			if !ok || !w.u.isText(v) {
				continue
			}
			if !w.emit(w.u.frame(v, addr+8, false, MethodScan, false, m.Kind)) {
				return
			}
		}
		next, ok := w.link(m)
		if !ok {
			break
		}
		nm, ok := w.stackFor(next, 8)
		if !ok || nm == m {
			break // the link must lead to another stack, once
		}
		m, addr = nm, next&^7
	}
	w.tr.End = EndScan
}

// link is the stack pointer saved at the top of an IRQ or exception stack.
func (w *walker) link(m *stackMem) (uint64, bool) {
	if m.Link == 0 {
		return 0, false
	}
	at := m.Link
	if m.LinkRegs {
		at += 19 * 8 // offsetof(struct pt_regs, sp)
	}
	v, ok := m.word(at)
	if !ok || v == 0 {
		return 0, false
	}
	if m.LinkRegs {
		if cs, ok := m.word(m.Link + 17*8); ok && cs&3 != 0 {
			return 0, false // interrupted user mode: no kernel stack below
		}
	}
	return v, true
}

// functionStart is the start of the function holding ip (ip-1 for a return
// address).
func (u *Unwinder) functionStart(ip uint64, signal bool) (uint64, bool) {
	if u.Syms == nil {
		return 0, false
	}
	look := ip
	if !signal {
		look = ip - 1
	}
	s, _, ok := u.Syms.ByAddr(look)
	return s.Addr, ok
}

// callsTo reports whether the instruction just before the return address
// ret is a direct call (E8 rel32) to fn. The target may be a little before
// fn (call padding / call-depth thunks of 6.2+) or on its ENDBR.
func (u *Unwinder) callsTo(ret, fn uint64) bool {
	if ret < 5 || !u.isText(ret) {
		return false
	}
	var b [5]byte
	if err := u.Mem.ReadVirt(b[:], ret-5); err != nil || b[0] != 0xe8 {
		return false
	}
	target := ret + uint64(int64(int32(binary.LittleEndian.Uint32(b[1:]))))
	return target+32 >= fn && target <= fn+8
}

// maxCallSiteScan bounds the search for a call site, in words.
const maxCallSiteScan = 512

// callSiteStep finds, from SP up, the first word that is a return address
// right after a direct call to fn, and makes it the caller's frame (BP is
// kept: a function ORC cannot describe is assumed to leave it alone).
func (w *walker) callSiteStep(fn uint64) bool {
	m, ok := w.stackFor(w.sp, 8)
	if !ok {
		return false
	}
	for a, n := w.sp&^7, 0; a+8 <= m.End && n < maxCallSiteScan; a, n = a+8, n+1 {
		v, ok := m.word(a)
		if !ok || !w.u.callsTo(v, fn) {
			continue
		}
		w.ip, w.sp, w.lastAt = v, a+8, a
		w.regs, w.prevRegs, w.fullRegs, w.signal = nil, nil, false, false
		return true
	}
	return false
}

// maxInterleave bounds the frames of an interleaved trace, in MaxDepths.
const maxInterleave = 4

// interleave inserts the text addresses lying on the stack between the
// walk's frames (show_trace_log_lvl(), arch/x86/kernel/dumpstack.c): from a
// frame's SP up to where the next frame's return address (or pt_regs) was
// read, or up to the end of the stack after the last frame on it.
func (w *walker) interleave() {
	frames := w.tr.Frames
	limit := maxInterleave*w.u.maxDepth() - len(frames) // scanned entries added at most
	added := 0
	out := make([]Frame, 0, len(frames))
	for i, f := range frames {
		out = append(out, f)
		if f.Method == MethodScan || f.Method == MethodHandler {
			continue
		}
		m := w.loadedStack(f.SP)
		if m == nil {
			continue
		}
		hi, skip := m.End, uint64(0)
		if i+1 < len(frames) {
			next := frames[i+1]
			switch {
			case next.Method == MethodScan:
				continue // the fallback scan lists the rest
			case next.Regs != nil && next.at != 0 && m.Contains(next.at, 8):
				// The kernel scans the pt_regs too, all but regs->ip (shown
				// with the registers), and the padding above them.
				hi, skip = next.at+PtRegsSize, next.at+iretFrameOffset
				if next.SP > hi && next.SP <= m.End {
					hi = next.SP
				}
			case next.at != 0 && m.Contains(next.at, 8):
				hi = next.at
			case next.Stack == f.Stack:
				continue
			}
		} else if w.endAt != 0 && m.Contains(w.endAt, 8) {
			hi = w.endAt
		}
		for a := f.SP &^ 7; a+8 <= hi && a >= m.Begin && added < limit; a += 8 {
			if v, ok := m.word(a); ok && a != skip && w.u.isText(v) {
				out = append(out, w.u.frame(v, a+8, false, MethodScan, false, m.Kind))
				added++
			}
		}
	}
	w.tr.Frames = out
}

func (w *walker) loadedStack(addr uint64) *stackMem {
	for _, m := range w.loaded {
		if m.Contains(addr, 8) {
			return m
		}
	}
	return nil
}
