package main

// The commands a crash user reaches for first: ps, mod, struct, p, rd, list.
// Output follows crash's where crash has one; --json everywhere data is a
// list.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/kernel/tasks"
	"github.com/panicscope/panicscope/vmcore/target"

	"github.com/panicscope/panicscope/internal/termsafe"
)

// openTyped opens the target and loads symbols and types (and modules),
// which every command here needs.
func openTyped(tf *targetFlags, dump string, stderr io.Writer) (*target.Target, error) {
	t, err := tf.open(dump, stderr)
	if err != nil {
		return nil, err
	}
	if err := t.LoadTypes(); err != nil {
		warnProblems(stderr, t.Problems())
		t.Close()
		return nil, fmt.Errorf("kernel objects cannot be read without symbols and types: %w", err)
	}
	return t, nil
}

// openCommand parses the command line of a command that reads kernel
// objects (usage from the command table) and opens its target with symbols
// and types loaded; rest are the positionals after the DUMP.
func openCommand(fs *flag.FlagSet, tf *targetFlags, args []string, minRest, maxRest int, stderr io.Writer) (*target.Target, []string, error) {
	dump, rest, err := tf.parse(fs, args, minRest, maxRest, "usage: panicscope "+commandUsage(fs.Name()))
	if err != nil {
		return nil, nil, err
	}
	t, err := openTyped(tf, dump, stderr)
	if err != nil {
		return nil, nil, err
	}
	return t, rest, nil
}

// resolveAddr reads an address expression: 0xHEX, a bare hex number of 8+
// digits, SYMBOL, or SYMBOL+OFFSET (decimal or 0x hex).
func resolveAddr(t *target.Target, expr string) (uint64, error) {
	name, offText, hasOff := strings.Cut(expr, "+")
	var off uint64
	if hasOff {
		v, err := strconv.ParseUint(offText, 0, 64)
		if err != nil {
			return 0, fmt.Errorf("%q: offset %q is not a number", expr, offText)
		}
		off = v
	}
	if a, ok := parseAddr(name); ok || strings.HasPrefix(name, "0x") || isDigits(name) {
		if isDigits(name) {
			a, ok = parseHexDigits(name)
		}
		if !ok {
			return 0, fmt.Errorf("%q is not an address", expr)
		}
		return a + off, nil
	}
	if t.Syms == nil {
		return 0, fmt.Errorf("%q: no symbols", expr)
	}
	s, ok := t.Syms.Lookup(name)
	if !ok {
		return 0, fmt.Errorf("%s: no such symbol", name)
	}
	return s.Addr + off, nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// parseHexDigits reads a number as crash does: addresses are hex.
func parseHexDigits(s string) (uint64, bool) {
	v, err := strconv.ParseUint(s, 16, 64)
	return v, err == nil
}

// symbolize is how crash decorates an address inside a kernel symbol.
func symbolize(t *target.Target) func(uint64) string {
	return func(a uint64) string {
		if t.Syms == nil {
			return ""
		}
		s, off, ok := t.Syms.ByAddr(a)
		if !ok {
			return ""
		}
		if off == 0 {
			return s.Name
		}
		return fmt.Sprintf("%s+%d", s.Name, off)
	}
}

func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runPs(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ps", stdout)
	var tf targetFlags
	tf.register(fs)
	stateF := fs.String("state", "", "only tasks in `ST`ate (RU, IN, UN, ID, ZO, ...)")
	cpuF := fs.Int("cpu", -1, "only tasks last on CPU `N`")
	asJSON := fs.Bool("json", false, "print JSON")
	t, _, err := openCommand(fs, &tf, args, 0, 0, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	list, werr := tasks.Walk(t.Kernel, 0)
	if werr != nil {
		// One line per broken walk; the list below is what was read.
		defer func() {
			for _, line := range strings.Split(werr.Error(), "\n") {
				fmt.Fprintf(stderr, "panicscope: warning: task list incomplete (%d tasks read, others may exist): %s\n", len(list), line)
			}
		}()
	}
	panicCPU := -1
	if !t.Dump.Live() {
		if c := analysis.Build(t).Panic.CPU; c != nil {
			panicCPU = *c
		}
	}
	var out []tasks.Task
	for _, tk := range list {
		if *stateF != "" && !strings.EqualFold(tk.State, *stateF) {
			continue
		}
		if *cpuF >= 0 && (tk.CPU == nil || *tk.CPU != *cpuF) {
			continue
		}
		out = append(out, tk)
	}
	if *asJSON {
		if out == nil {
			out = []tasks.Task{}
		}
		return encodeJSON(stdout, out)
	}
	// crash's ps columns (no %MEM/VSZ/RSS: they need the mm counters of
	// every task; not read). '>' marks a CPU's current task, '*' the task
	// that was current on the panicking CPU.
	fmt.Fprintln(stdout, "      PID    PPID  CPU       TASK        ST  COMM")
	for _, tk := range out {
		mark := " "
		if tk.Active != nil {
			mark = ">"
			if *tk.Active == panicCPU {
				mark = "*"
			}
		}
		comm := termSafe(tk.Comm)
		if tk.Kernel {
			comm = "[" + comm + "]"
		}
		if tk.Err != "" {
			comm += "  (" + termSafe(tk.Err) + ")"
		}
		fmt.Fprintf(stdout, "%s %7s %7s %4s  %016x  %-2s  %s\n", mark, pidText(tk.PID), optInt(tk.PPID), optInt(tk.CPU), tk.Addr, tk.State, comm)
	}
	return nil
}

func pidText(p int) string {
	if p < 0 {
		return "?"
	}
	return strconv.Itoa(p)
}

func optInt(p *int) string {
	if p == nil {
		return "?"
	}
	return strconv.Itoa(*p)
}

// termSafe shows a string from the dump escaped (termsafe.String): a
// comm or module name cannot drive the terminal.
func termSafe(s string) string { return termsafe.String(s) }

func runMod(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("mod", stdout)
	var tf targetFlags
	tf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	t, _, err := openCommand(fs, &tf, args, 0, 0, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	mods := append([]target.ModuleInfo(nil), t.Modules...)
	sort.Slice(mods, func(i, j int) bool { return mods[i].Addr < mods[j].Addr })
	if *asJSON {
		type modJSON struct {
			Name    string `json:"name"`
			Module  string `json:"module"`
			Base    string `json:"text_base"`
			Size    uint64 `json:"size"`
			Symbols int    `json:"symbols"`
			Problem string `json:"problem,omitempty"`
		}
		out := []modJSON{}
		for _, m := range mods {
			out = append(out, modJSON{m.Name, fmt.Sprintf("%#x", m.Addr), fmt.Sprintf("%#x", m.Base), m.Size, m.Symbols, m.Problem})
		}
		return encodeJSON(stdout, out)
	}
	// crash's mod columns; panicscope has no object file column (it reads
	// no files) but counts the module's own kallsyms.
	fmt.Fprintln(stdout, "     MODULE       NAME                    TEXT_BASE         SIZE  SYMBOLS")
	for _, m := range mods {
		fmt.Fprintf(stdout, "%016x  %-22s %016x  %6d  %7d", m.Addr, termSafe(m.Name), m.Base, m.Size, m.Symbols)
		if m.Problem != "" {
			fmt.Fprintf(stdout, "  (%s)", termSafe(m.Problem))
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

func runStruct(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("struct", stdout)
	var tf targetFlags
	tf.register(fs)
	depth := fs.Int("depth", 10, "expand nested structs `N` levels deep")
	t, rest, err := openCommand(fs, &tf, args, 2, 2, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	addr, err := resolveAddr(t, rest[1])
	if err != nil {
		return err
	}
	typ := rest[0]
	if !strings.Contains(typ, " ") && !strings.HasSuffix(typ, "_t") {
		typ = "struct " + typ // crash's `struct notifier_block ADDR`
		if _, err := t.Kernel.Type(typ); err != nil {
			typ = rest[0]
		}
	}
	o, err := t.Kernel.Object(addr, typ)
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, o.Format(kernel.FormatOptions{Symbolize: symbolize(t), MaxDepth: *depth}))
	return err
}

func runPrint(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("p", stdout)
	var tf targetFlags
	tf.register(fs)
	t, rest, err := openCommand(fs, &tf, args, 1, 2, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	addr, err := resolveAddr(t, rest[0])
	if err != nil {
		return err
	}
	if len(rest) == 1 {
		// BTF describes types, not most variables: without a TYPE (or a
		// --vmlinux) the symbol's type is not known, so say so rather than
		// guess a width.
		return fmt.Errorf("p %s: the type of a variable is not in BTF; give it: panicscope p DUMP %s TYPE (e.g. int, 'unsigned long', 'struct list_head')", rest[0], rest[0])
	}
	o, err := t.Kernel.Object(addr, rest[1])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s = ", termSafe(rest[0]))
	_, err = io.WriteString(stdout, o.Format(kernel.FormatOptions{Symbolize: symbolize(t)}))
	return err
}

// maxRdWords bounds rd's output.
const maxRdWords = 1 << 16

func runRd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rd", stdout)
	var tf targetFlags
	tf.register(fs)
	physical := fs.Bool("phys", false, "ADDR is a physical address")
	dump, rest, err := tf.parse(fs, args, 1, 2, "usage: panicscope rd DUMP|--live ADDR|SYMBOL[+OFF] [COUNT] [--phys]")
	if err != nil {
		return err
	}
	count := uint64(1)
	if len(rest) == 2 {
		if count, err = strconv.ParseUint(rest[1], 0, 64); err != nil || count == 0 || count > maxRdWords {
			return usagef("rd: COUNT %q: want 1..%d (8-byte words)", rest[1], maxRdWords)
		}
	}
	t, err := tf.open(dump, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	if !*physical {
		t.LoadSymbols() // for SYMBOL; an address needs none
	}
	addr, err := resolveAddr(t, rest[0])
	if err != nil {
		return err
	}
	read := t.Dump.ReadVirt
	if *physical {
		read = t.Dump.ReadPhys
	}
	// crash's rd -64: two words a line, then the bytes as ASCII. A word
	// that cannot be read ends the output with why.
	buf := make([]byte, 16)
	for i := uint64(0); i < count; i += 2 {
		a := addr + i*8
		n := min(count-i, 2)
		if err := read(buf[:n*8], a); err != nil {
			return fmt.Errorf("rd %#x: %w", a, err)
		}
		fmt.Fprintf(stdout, "%016x:  ", a)
		for w := uint64(0); w < 2; w++ {
			if w < n {
				fmt.Fprintf(stdout, "%016x ", binary.LittleEndian.Uint64(buf[w*8:]))
			} else {
				fmt.Fprint(stdout, strings.Repeat(" ", 17))
			}
		}
		fmt.Fprintf(stdout, "  %s\n", asciiColumn(buf[:n*8]))
	}
	return nil
}

func asciiColumn(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 0x20 && c < 0x7f {
			out[i] = c
		} else {
			out[i] = '.'
		}
	}
	return string(out)
}

// maxListEntries bounds list's walk.
const maxListEntries = 1 << 16

func runList(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("list", stdout)
	var tf targetFlags
	tf.register(fs)
	typ := fs.String("type", "", "print each entry as `TYPE` (with --member: the struct holding the link)")
	member := fs.String("member", "", "the link is `MEMBER` of TYPE (list_head or next pointer); entries are container_of it")
	offset := fs.Uint64("offset", 0, "without --member: the next pointer is at `OFF` bytes into each entry (crash's list -o)")
	head := fs.Bool("head", false, "START is a list_head ring head (not an entry): walk it like list_for_each()")
	max := fs.Int("max", 1024, "stop after `N` entries")
	dump, rest, err := tf.parse(fs, args, 1, 1, "usage: panicscope list DUMP|--live START [--head] [--type TYPE --member MEMBER] [--max N]")
	if err != nil {
		return err
	}
	if (*member != "") != (*typ != "") && *member != "" {
		return usagef("list: --member needs --type (the struct it is a member of)")
	}
	if *max <= 0 || *max > maxListEntries {
		return usagef("list: --max %d: want 1..%d", *max, maxListEntries)
	}
	t, err := openTyped(&tf, dump, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	start, err := resolveAddr(t, rest[0])
	if err != nil {
		return err
	}
	off := *offset
	if *member != "" {
		if off, err = t.Kernel.OffsetOf(*typ, *member); err != nil {
			return err
		}
	}
	n := 0
	visit := func(entry uint64) error {
		n++
		fmt.Fprintf(stdout, "%016x\n", entry)
		if *typ != "" {
			o, err := t.Kernel.Object(entry, *typ)
			if err != nil {
				return err
			}
			io.WriteString(stdout, o.Format(kernel.FormatOptions{Symbolize: symbolize(t), MaxDepth: 3}))
		}
		return nil
	}
	fromLink := func(link uint64) error { return visit(link - off) }
	switch {
	case *head:
		// list_for_each_entry(): START is the head, not an entry.
		err = t.Kernel.ListForEach(start, *max, fromLink)
	case *member != "" && isListHead(t, *typ, *member):
		// crash's list -s TYPE.MEMBER ADDR: START is the first entry, and
		// the ring is walked until it comes back to it.
		if err = visit(start); err == nil {
			err = t.Kernel.ListForEach(start+off, *max-1, fromLink)
		}
	default:
		// A NULL-terminated chain through the next pointer at off (0
		// without --member: the first word, like crash's list ADDR).
		err = t.Kernel.SListForEach(start, off, *max, visit)
	}
	fmt.Fprintf(stderr, "panicscope: %d entries\n", n)
	var le *kernel.ListError
	if errors.As(err, &le) {
		return fmt.Errorf("list: walk stopped: %w", err)
	}
	return err
}

// isListHead reports whether typ.member is a struct list_head (a ring)
// rather than a next pointer.
func isListHead(t *target.Target, typ, member string) bool {
	o, err := t.Kernel.Object(0, typ)
	if err != nil {
		return false
	}
	m, err := o.Member(member)
	return err == nil && kernel.TypeString(m.Type) == "struct list_head"
}
