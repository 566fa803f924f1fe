package analysis

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/panicscope/panicscope/vmcore/arch"
)

// Register is one saved register: its name as the architecture calls it
// and its value as 16 hex digits.
type Register struct {
	Name  string
	Value string
}

// Registers are a CPU's saved registers in the architecture's display
// order. In JSON they are an object {"name": "value", ...} in that order.
type Registers []Register

// registersOf renders r for the report.
func registersOf(r arch.Regs) Registers {
	if r.Empty() {
		return nil
	}
	out := make(Registers, 0, len(r.List))
	for _, x := range r.List {
		out = append(out, Register{Name: x.Name, Value: fmt.Sprintf("%016x", x.Value)})
	}
	return out
}

// MarshalJSON writes an object in display order.
func (rs Registers) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(r.Name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(r.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads the object back, keeping its order.
func (rs *Registers) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		*rs = nil
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("registers: want an object, got %v", tok)
	}
	out := Registers{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return err
		}
		name, ok := k.(string)
		if !ok {
			return fmt.Errorf("registers: key %v", k)
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("registers: %s: %w", name, err)
		}
		out = append(out, Register{Name: name, Value: v})
	}
	*rs = out
	return nil
}
