package target_test

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/kernel/dwarftypes"
	"github.com/panicscope/panicscope/vmcore/target"
)

func needVmlinux(t *testing.T) string {
	return testfixtures.DebugVmlinux(t, "6.1.0-56-amd64")
}

// TestVmlinuxTypesGiveTheSameReport reads the 6.1 dump with DWARF types
// and requires the same chains and dumpers as with BTF.
func TestVmlinuxTypesGiveTheSameReport(t *testing.T) {
	dbgVmlinux := needVmlinux(t)
	fx := testfixtures.Get(t, "qemu-6.1-lp-oops-pstore")
	dump := filepath.Join(fx.Dir, "vmcore")
	withBTF, err := target.Open(dump, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer withBTF.Close()
	withDWARF, err := target.Open(dump, target.Options{Vmlinux: dbgVmlinux})
	if err != nil {
		t.Fatal(err)
	}
	defer withDWARF.Close()
	if err := withDWARF.LoadTypes(); err != nil || !strings.HasPrefix(withDWARF.TypeSource, "DWARF vmlinux") {
		t.Fatalf("type source %q", withDWARF.TypeSource)
	}
	a, b := analysis.Build(withBTF), analysis.Build(withDWARF)
	if len(a.Chains) != len(b.Chains) || len(a.Dumpers) != len(b.Dumpers) {
		t.Fatalf("BTF: %d chains %d dumpers; DWARF: %d chains %d dumpers", len(a.Chains), len(a.Dumpers), len(b.Chains), len(b.Dumpers))
	}
	for i := range a.Chains {
		if len(a.Chains[i].Entries) != len(b.Chains[i].Entries) {
			t.Errorf("%s: %d entries with BTF, %d with DWARF", a.Chains[i].Name, len(a.Chains[i].Entries), len(b.Chains[i].Entries))
			continue
		}
		for j := range a.Chains[i].Entries {
			if !reflect.DeepEqual(a.Chains[i].Entries[j], b.Chains[i].Entries[j]) {
				t.Errorf("%s[%d]: BTF %+v, DWARF %+v", a.Chains[i].Name, j, a.Chains[i].Entries[j], b.Chains[i].Entries[j])
			}
		}
	}
}

// TestVmlinuxWrongBuildID refuses the 6.1 vmlinux for the 5.10 dump unless
// forced.
func TestVmlinuxWrongBuildID(t *testing.T) {
	dbgVmlinux := needVmlinux(t)
	fx := testfixtures.Get(t, "qemu-5.10-sysrq")
	dump := filepath.Join(fx.Dir, "vmcore")
	_, err := target.Open(dump, target.Options{Vmlinux: dbgVmlinux})
	var mismatch *dwarftypes.BuildIDMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("want a build ID mismatch, got %v", err)
	}
	forced, err := target.Open(dump, target.Options{Vmlinux: dbgVmlinux, Force: true})
	if err != nil {
		t.Fatalf("--force: %v", err)
	}
	forced.Close()
}
