// Package disasm disassembles kernel text read from a dump, with jump and
// call targets named by symbol. x86_64 decodes with golang.org/x/arch's
// x86asm in AT&T syntax, as crash's dis (gdb) prints it; arm64 with its
// arm64asm in GNU syntax, branch targets as objdump shows them
// ("bl ffff800080123450 <vpanic>").
package disasm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"

	"github.com/panicscope/panicscope/vmcore/vmem"
)

// Line is one decoded instruction.
type Line struct {
	PC    uint64 `json:"pc"`
	Bytes []byte `json:"bytes"`
	Text  string `json:"text"` // AT&T (x86_64) or GNU (arm64) syntax; "(bad)" for bytes that do not decode
}

// Symbolizer names an address: the symbol and the address's offset in it;
// ok false when the address is in no symbol.
type Symbolizer func(addr uint64) (name string, off uint64, ok bool)

// MaxBytes bounds one disassembly (a kernel function is rarely over 16 KiB).
const MaxBytes = 64 << 10

// ErrUnsupported is returned for an architecture without a decoder.
var ErrUnsupported = errors.New("unsupported architecture for disassembly")

// maxInsn is the longest x86 instruction.
const maxInsn = 15

// Range disassembles [start, end) of kernel memory for arch ("x86_64").
// Bytes that do not decode print as "(bad)" and decoding resumes at the
// next byte, as objdump does. A page that cannot be read ends the listing
// with an error wrapping the *vmem.FaultError; the lines before it stand.
func Range(mem vmem.Reader, arch string, start, end uint64, sym Symbolizer) ([]Line, error) {
	if arch == "aarch64" {
		return rangeArm64(mem, start, end, sym)
	}
	if arch != "x86_64" {
		return nil, fmt.Errorf("%w: %q", ErrUnsupported, arch)
	}
	if end <= start {
		return nil, nil
	}
	if end-start > MaxBytes {
		end = start + MaxBytes
	}
	buf := make([]byte, end-start, end-start+maxInsn)
	n, err := readPrefix(mem, buf, start)
	buf = buf[:n]
	if err == nil {
		// The last instruction may run past end: read what follows, as
		// far as it is readable.
		var b [1]byte
		for i := uint64(0); i < maxInsn && mem.ReadVirt(b[:], end+i) == nil; i++ {
			buf = append(buf, b[0])
		}
	}
	lookup := func(a uint64) (string, uint64) {
		if sym == nil {
			return "", 0
		}
		name, off, ok := sym(a)
		if !ok {
			return "", 0
		}
		return name, a - off
	}
	var out []Line
	for pc := start; pc < end && pc-start < uint64(len(buf)); {
		b := buf[pc-start:]
		inst, derr := x86asm.Decode(b, 64)
		if derr != nil || inst.Len == 0 {
			out = append(out, Line{PC: pc, Bytes: b[:1:1], Text: "(bad)"})
			pc++
			continue
		}
		out = append(out, Line{PC: pc, Bytes: b[:inst.Len:inst.Len], Text: x86asm.GNUSyntax(inst, pc, lookup)})
		pc += uint64(inst.Len)
	}
	return out, err
}

// readPrefix reads as much of buf from addr as is readable, page by page,
// and returns how many bytes it read and the error that stopped it.
func readPrefix(mem vmem.Reader, buf []byte, addr uint64) (int, error) {
	const page = 4096
	n := 0
	for n < len(buf) {
		chunk := min(len(buf)-n, int(page-(addr+uint64(n))%page))
		if err := mem.ReadVirt(buf[n:n+chunk], addr+uint64(n)); err != nil {
			return n, err
		}
		n += chunk
	}
	return n, nil
}

// rangeArm64 decodes fixed 4-byte A64 instructions from start (aligned
// down to 4). A word that does not decode prints as ".inst 0x...", as
// objdump does; a PC-relative operand becomes its target address with the
// symbol in angle brackets.
func rangeArm64(mem vmem.Reader, start, end uint64, sym Symbolizer) ([]Line, error) {
	start &^= 3
	if end <= start {
		return nil, nil
	}
	if end-start > MaxBytes {
		end = start + MaxBytes
	}
	buf := make([]byte, (end-start+3)&^3)
	n, err := readPrefix(mem, buf, start)
	var out []Line
	for off := 0; off+4 <= n; off += 4 {
		pc := start + uint64(off)
		b := buf[off : off+4 : off+4]
		inst, derr := arm64asm.Decode(b)
		if derr != nil {
			out = append(out, Line{PC: pc, Bytes: b, Text: fmt.Sprintf(".inst 0x%08x", binary.LittleEndian.Uint32(b))})
			continue
		}
		text := arm64asm.GNUSyntax(inst)
		for _, a := range inst.Args {
			rel, ok := a.(arm64asm.PCRel)
			if !ok {
				continue
			}
			target := pc + uint64(int64(rel))
			repl := fmt.Sprintf("%x", target)
			if sym != nil {
				if name, o, ok := sym(target); ok {
					if o == 0 {
						repl += " <" + name + ">"
					} else {
						repl += fmt.Sprintf(" <%s+0x%x>", name, o)
					}
				}
			}
			text = strings.Replace(text, strings.ToLower(rel.String()), repl, 1)
		}
		out = append(out, Line{PC: pc, Bytes: b, Text: text})
	}
	return out, err
}
