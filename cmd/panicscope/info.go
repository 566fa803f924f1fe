package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/panicscope/panicscope/vmcore/analysis"

	"github.com/panicscope/panicscope/internal/termsafe"
)

func runInfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("info", stdout)
	asJSON := fs.Bool("json", false, "print JSON")
	var tf targetFlags
	tf.register(fs)
	dump, _, err := tf.parse(fs, args, 0, 0, "usage: panicscope info DUMP|--live [--json]")
	if err != nil {
		return err
	}
	// Identity and the log only: no symbols or types are read.
	t, err := tf.open(dump, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	id := analysis.Identify(t.Dump)
	if t.Dump.VMCOREINFO() != nil {
		id.AddLog(t.Log())
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(id)
	}
	return printIdentity(stdout, id)
}

func printIdentity(w io.Writer, id analysis.Identity) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// Every value may come from the dump: escaped, it cannot drive the
	// terminal (or break the table with a tab or newline).
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, termsafe.String(v)) }
	row("release", orUnknown(id.Release))
	row("version", orUnknown(id.Version))
	row("build id", orUnknown(id.BuildID))
	row("arch", id.Arch)
	if id.Hostname != "" {
		row("hostname", id.Hostname)
	}
	row("page size", orUnknownOf(id.PageSize))
	row("paging levels", orUnknownOf(id.PagingLevels))
	if id.VABits != nil {
		va := fmt.Sprint(*id.VABits)
		if id.ConfigVABits != nil {
			va += fmt.Sprintf(" (configured %d)", *id.ConfigVABits)
		}
		row("va bits", va)
	}
	row("kaslr offset", orUnknown(id.KASLROffset))
	if !id.NoPhysBase {
		row("phys_base", orUnknown(id.PhysBase))
	}
	row("cpus", fmt.Sprint(id.CPUs))
	row("format", id.Format)
	row("compression", id.Compression)
	filtered := "no"
	switch {
	case id.Filtered && id.DumpLevel >= 0:
		filtered = fmt.Sprintf("yes (dump level %d)", id.DumpLevel)
	case id.Filtered:
		filtered = "yes (segments hold fewer pages than memory)"
	}
	row("filtered", filtered)
	if id.Truncation != nil {
		row("incomplete", "yes: "+id.Truncation.String())
	} else if id.Incomplete {
		row("incomplete", "yes: the writer flagged this dump as cut short")
	}
	if id.CrashTime != nil {
		row("crash time", id.CrashTime.Format("2006-01-02 15:04:05 UTC")+" ("+id.CrashTimeSource+")")
	} else {
		row("crash time", "unknown")
	}
	row("vmcoreinfo", id.VMCOREINFOSource)
	row("panic", orUnknown(id.PanicMessage))
	for _, p := range id.Problems {
		row("note", p.Message())
	}
	return tw.Flush()
}

// orUnknown is *s, or "unknown" for a fact that could not be read (the
// notes say why).
func orUnknown(s *string) string {
	if s == nil {
		return "unknown"
	}
	return *s
}

func orUnknownOf[T any](v *T) string {
	if v == nil {
		return "unknown"
	}
	return fmt.Sprint(*v)
}
