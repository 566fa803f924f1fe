package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/printk"
	"github.com/panicscope/panicscope/vmcore/target"
)

func runInfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("info", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	live := fs.Bool("live", false, "identify the running kernel through /proc/kcore instead of a DUMP (needs root)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 && !(*live && len(pos) == 0) {
		return fmt.Errorf("usage: panicscope info DUMP|--live [--json]")
	}
	var d *vmcore.Dump
	if *live {
		t, err := target.OpenLive(target.Options{})
		if err != nil {
			return err
		}
		d = t.Dump
	} else if d, err = vmcore.Open(pos[0]); err != nil {
		return err
	}
	defer d.Close()
	id := analysis.Identify(d)
	if info := d.VMCOREINFO(); info != nil {
		id.AddLog(printk.Read(d, info))
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
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("release", id.Release)
	row("version", id.Version)
	row("build id", id.BuildID)
	row("arch", id.Arch)
	if id.Hostname != "" {
		row("hostname", id.Hostname)
	}
	row("page size", fmt.Sprint(id.PageSize))
	row("paging levels", levels(id.PagingLevels))
	row("kaslr offset", id.KASLROffset)
	row("phys_base", id.PhysBase)
	row("cpus", fmt.Sprint(id.CPUs))
	row("format", id.Format)
	row("compression", id.Compression)
	filtered := "no"
	if id.Filtered {
		filtered = fmt.Sprintf("yes (dump level %d)", id.DumpLevel)
	}
	row("filtered", filtered)
	if id.Incomplete {
		row("incomplete", "yes: the writer flagged this dump as cut short")
	}
	if !id.CrashTime.IsZero() {
		row("crash time", id.CrashTime.Format("2006-01-02 15:04:05 UTC")+" ("+id.CrashTimeSource+")")
	} else {
		row("crash time", analysis.Unknown)
	}
	row("vmcoreinfo", id.VMCOREINFOSource)
	row("panic", id.PanicMessage)
	for _, p := range id.Problems {
		row("note", p)
	}
	return tw.Flush()
}

func levels(n int) string {
	if n == 0 {
		return analysis.Unknown
	}
	return fmt.Sprint(n)
}
