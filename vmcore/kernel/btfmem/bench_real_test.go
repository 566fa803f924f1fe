package btfmem_test

import (
	"testing"

	"github.com/panicscope/panicscope/vmcore/kernel/btfmem"
)

// reportTypes are the type names `panicscope report` resolves on
// kdump-6.1-lzo (one lookup each; the object layer caches them).
var reportTypes = []string{
	"struct notifier_block", "struct atomic_notifier_head", "struct blocking_notifier_head",
	"struct kmsg_dumper", "struct console", "struct module", "struct btf_module",
	"struct task_struct", "struct pstore_info", "struct orc_entry", "struct cea_exception_stacks",
	"unsigned long", "int", "bool",
}

// BenchmarkTypes: vmlinux BTF of kdump-6.1-lzo, already in memory, parsed
// and the report's types resolved by name, as the report does after
// reading the blob.
func BenchmarkTypes(b *testing.B) {
	blobs := readBlobs(b, "kdump-6.1-lzo")
	b.SetBytes(int64(len(blobs.vmlinux)))
	b.ReportAllocs()
	for b.Loop() {
		spec, err := btfmem.Parse(blobs.vmlinux)
		if err != nil {
			b.Fatal(err)
		}
		ts := btfmem.NewTypes(spec)
		for _, name := range reportTypes {
			if _, err := ts.AnyType(name); err != nil && name != "unsigned long" && name != "int" && name != "bool" {
				b.Fatalf("%s: %v", name, err)
			}
		}
	}
}
