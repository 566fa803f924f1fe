package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/panicscope/panicscope/vmcore/disasm"
)

// maxDisCount bounds dis's instruction count.
const maxDisCount = 4096

func runDis(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dis", stdout)
	var tf targetFlags
	tf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	dump, rest, err := tf.parse(fs, args, 1, 2, "usage: panicscope dis DUMP|--live FUNC|ADDR|SYMBOL+OFF [COUNT]")
	if err != nil {
		return err
	}
	count := 0
	if len(rest) == 2 {
		if count, err = strconv.Atoi(rest[1]); err != nil || count <= 0 || count > maxDisCount {
			return usagef("dis: COUNT %q: want 1..%d instructions", rest[1], maxDisCount)
		}
	}
	t, err := tf.open(dump, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	t.Load() // module symbols name calls into modules
	if t.Syms == nil {
		return fmt.Errorf("dis: no symbols for this dump")
	}
	start, err := resolveAddr(t, rest[0])
	if err != nil {
		return err
	}
	// crash: "dis FUNC" is the whole function, "dis ADDR" one instruction,
	// "dis X COUNT" COUNT instructions.
	end := start + 15
	if count > 0 {
		end = start + uint64(count)*15
	} else if s, ok := t.Syms.Lookup(rest[0]); ok && s.Size > 0 {
		end = s.Addr + s.Size
		count = maxDisCount
	} else {
		count = 1
	}
	arch := t.Dump.Arch().Name()
	name := func(a uint64) (string, uint64, bool) {
		s, off, ok := t.Syms.ByAddr(a)
		return s.Name, off, ok
	}
	lines, err := disasm.Range(t.Dump, arch, start, end, name)
	if len(lines) > count {
		lines = lines[:count]
	}
	if *asJSON {
		if lines == nil {
			lines = []disasm.Line{}
		}
		if jerr := encodeJSON(stdout, lines); jerr != nil {
			return jerr
		}
		return err
	}
	for _, l := range lines {
		where := ""
		if s, off, ok := t.Syms.ByAddr(l.PC); ok {
			where = " <" + s.Name
			if off > 0 {
				where += "+" + strconv.FormatUint(off, 10)
			}
			where += ">"
		}
		fmt.Fprintf(stdout, "%#x%s:\t%s\n", l.PC, where, strings.TrimSpace(l.Text))
	}
	return err
}
