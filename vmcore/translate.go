package vmcore

import (
	"fmt"

	"github.com/panicscope/panicscope/vmcore/x86"
)

// setupTranslation builds the x86_64 translator from VMCOREINFO. For the
// QEMU-written dumps the header's phys_base is a guess, so only VMCOREINFO
// values are used.
func (d *Dump) setupTranslation() error {
	cfg, err := x86.ConfigFromVMCOREINFO(d.mem, d.info)
	if err != nil {
		return err
	}
	t, err := x86.New(d.mem, cfg)
	if err != nil {
		return fmt.Errorf("x86 translator: %w", err)
	}
	d.trans, d.tcfg = t, cfg
	return nil
}
