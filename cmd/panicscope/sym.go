package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

func runSym(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sym", stdout)
	var tf targetFlags
	tf.register(fs)
	dump, names, err := tf.parse(fs, args, 1, -1, "usage: panicscope sym DUMP|--live NAME|ADDR [NAME|ADDR]")
	if err != nil {
		return err
	}
	t, err := tf.open(dump, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	// Module symbols come from each struct module, which needs types.
	t.Load()
	if t.Syms == nil {
		warnProblems(stderr, t.Problems())
		return fmt.Errorf("no symbols available for this dump")
	}
	fmt.Fprintf(stderr, "symbols: %s (%d)\n", t.SymbolSource, t.Syms.Len())
	failed := false
	for _, q := range names {
		if strings.Contains(q, "+") {
			// func+0xoff: the address, then what it is (as for an address).
			addr, err := resolveAddr(t, q)
			if err != nil {
				fmt.Fprintf(stderr, "panicscope: %v\n", err)
				failed = true
				continue
			}
			fmt.Fprintf(stdout, "%016x  %s\n", addr, t.Syms.Format(addr))
			continue
		}
		if addr, ok := parseAddr(q); ok {
			fmt.Fprintf(stdout, "%016x  %s\n", addr, t.Syms.Format(addr))
			continue
		}
		all := t.Syms.LookupAll(q)
		if len(all) == 0 {
			fmt.Fprintf(stderr, "panicscope: %s: no such symbol\n", q)
			failed = true
			continue
		}
		for _, s := range all {
			mod := ""
			if s.Module != "" {
				mod = " [" + s.Module + "]"
			}
			fmt.Fprintf(stdout, "%016x %c %s%s (size %#x)\n", s.Addr, s.Type, termSafe(s.Name), termSafe(mod), s.Size)
		}
	}
	if failed {
		return exitError{code: 1}
	}
	return nil
}

func parseAddr(s string) (uint64, bool) {
	h := strings.TrimPrefix(strings.ToLower(s), "0x")
	if len(h) < 8 { // symbol names like "dead" or "add" are not addresses
		return 0, false
	}
	v, err := strconv.ParseUint(h, 16, 64)
	return v, err == nil
}
