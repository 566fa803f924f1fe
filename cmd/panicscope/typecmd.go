package main

import (
	"fmt"
	"io"
)

func runType(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("type", stderr)
	var tf targetFlags
	tf.register(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	dump, names, ok := tf.split(pos)
	if !ok || len(names) == 0 {
		return fmt.Errorf("usage: panicscope type DUMP|--live TYPE [TYPE]")
	}
	t, err := tf.open(dump, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	if t.Kernel.Types == nil {
		warnProblems(stderr, t.Problems)
		return fmt.Errorf("no type information available for this dump")
	}
	for _, name := range names {
		out, err := t.Kernel.Layout(name)
		if err != nil {
			return fmt.Errorf("type %s: %w", name, err)
		}
		fmt.Fprint(stdout, out)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			fmt.Fprintln(stdout)
		}
	}
	return nil
}
