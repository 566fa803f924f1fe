package arch

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Register is one named register value.
type Register struct {
	Name  string
	Value uint64
}

// Regs is a saved register set: the registers in the architecture's
// display order (its __show_regs()), and the ones the neutral layers need
// by role.
type Regs struct {
	List []Register
	// PC, SP and FP are the program counter, stack pointer and frame
	// pointer (x86_64 rip/rsp/rbp; arm64 pc/sp/x29).
	PC, SP, FP uint64
	// User: the registers are a user-mode context (x86_64: CS has a
	// non-zero privilege level; arm64: PSTATE.M is EL0).
	User bool
	// Partial: only some registers were saved (an x86_64 IRET frame);
	// PartialNote says which.
	Partial     bool
	PartialNote string
}

// Get returns the register called name.
func (r *Regs) Get(name string) (uint64, bool) {
	for _, x := range r.List {
		if x.Name == name {
			return x.Value, true
		}
	}
	return 0, false
}

// Empty reports whether no register is known.
func (r *Regs) Empty() bool { return len(r.List) == 0 }

// MarshalJSON writes the registers as an object of lower-case names with
// hex values ({"rip": "0xffffffff81000000", ...}), in List order; a partial
// set adds "partial".
func (r Regs) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, x := range r.List {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(x.Name)
		b.Write(k)
		fmt.Fprintf(&b, ":\"%#x\"", x.Value)
	}
	if r.Partial {
		if len(r.List) > 0 {
			b.WriteByte(',')
		}
		v, _ := json.Marshal(r.PartialNote)
		b.WriteString(`"partial":`)
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
