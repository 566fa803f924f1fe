package unwind

import (
	"fmt"
	"io"
	"strings"

	"github.com/panicscope/panicscope/vmcore/arch"
)

// Format writes the trace in the style of crash's bt: one "#n [sp] symbol"
// line per frame (unreliable frames with "? "), the method when it is not
// ORC, a marker where the walk changes stacks, the registers of each
// interrupted context and, last, why the walk ended.
func (t *Trace) Format(w io.Writer) {
	prevStack := ""
	for i, f := range t.Frames {
		if i > 0 && f.Stack != prevStack {
			fmt.Fprintf(w, "    --- %s stack ---\n", f.Stack)
		}
		prevStack = f.Stack
		if f.Regs != nil {
			fmt.Fprintf(w, "    [exception %s: %s]\n", t.pcName(), f.Symbol())
			for _, l := range t.regsLines(*f.Regs) {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
		line := fmt.Sprintf("%3s [%016x] %s", fmt.Sprintf("#%d", i), f.SP, f.String())
		switch f.Method {
		case MethodORC, MethodRegs:
		default:
			line += fmt.Sprintf("  (%s)", f.Method)
		}
		fmt.Fprintln(w, line)
	}
	if t.UserRegs != nil {
		fmt.Fprintln(w, "    user-mode registers:")
		for _, l := range t.regsLines(*t.UserRegs) {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	end := t.End
	if t.Complete() {
		end += ", complete"
	}
	fmt.Fprintf(w, "    (%s)\n", end)
	if t.Err != "" {
		fmt.Fprintf(w, "    note: %s\n", t.Err)
	}
}

// String is Format into a string.
func (t *Trace) String() string {
	var b strings.Builder
	t.Format(&b)
	return b.String()
}

func (t *Trace) pcName() string {
	if t.arch == nil {
		return "PC"
	}
	return t.arch.PCName()
}

// regsLines renders registers in the architecture's style, else as
// name: value pairs.
func (t *Trace) regsLines(r arch.Regs) []string {
	if t.arch != nil {
		return t.arch.RegsLines(r)
	}
	var out []string
	for _, x := range r.List {
		out = append(out, fmt.Sprintf("%s: %016x", x.Name, x.Value))
	}
	return out
}
