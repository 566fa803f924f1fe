package main

import (
	"fmt"
	"io"
)

func runType(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("type", stdout)
	var tf targetFlags
	tf.register(fs)
	dump, names, err := tf.parse(fs, args, 1, -1, "usage: panicscope type DUMP|--live TYPE [TYPE]")
	if err != nil {
		return err
	}
	t, err := tf.open(dump, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := t.LoadTypes(); err != nil {
		warnProblems(stderr, t.Problems())
		return fmt.Errorf("no type information available for this dump: %w", err)
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
