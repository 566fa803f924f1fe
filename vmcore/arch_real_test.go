package vmcore_test

import (
	"path/filepath"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
)

// TestArchOfFixtures: every x86_64 fixture is told x86_64, and its CPUs'
// registers carry PC and SP.
func TestArchOfFixtures(t *testing.T) {
	for _, fx := range testfixtures.All(t) {
		d, err := vmcore.Open(filepath.Join(fx.Dir, "vmcore"))
		if err != nil {
			t.Errorf("%s: %v", fx.Name, err)
			continue
		}
		if d.Arch().Name() != "x86_64" {
			t.Errorf("%s: arch %s", fx.Name, d.Arch().Name())
		}
		for _, c := range d.CPUs {
			if c.HasStatus && (c.Regs.PC == 0 || c.Regs.SP == 0 || c.Regs.List[0].Name != "rip") {
				t.Errorf("%s cpu %d: registers %+v", fx.Name, c.Index, c.Regs)
			}
		}
		d.Close()
	}
}
