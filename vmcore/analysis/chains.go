package analysis

import (
	"errors"
	"fmt"

	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/target"
)

// maxChainEntries bounds a notifier chain walk; real chains hold tens.
const maxChainEntries = 512

// chainDefs lists the notifier chains worth showing. The split panic lists
// come from the 2022 panic refactor proposal and exist only on kernels that
// merged it: they are read when their symbol exists.
var chainDefs = []struct {
	name, headType string
	optional       bool
}{
	{"panic_notifier_list", "struct atomic_notifier_head", false},
	{"die_chain", "struct atomic_notifier_head", false},
	{"reboot_notifier_list", "struct blocking_notifier_head", false},
	{"restart_handler_list", "struct atomic_notifier_head", false},
	{"panic_hypervisor_list", "struct atomic_notifier_head", true},
	{"panic_info_list", "struct atomic_notifier_head", true},
	{"panic_pre_reboot_list", "struct atomic_notifier_head", true},
	{"panic_post_reboot_list", "struct atomic_notifier_head", true},
}

// readChains walks each notifier chain in call order: notifier_chain_register()
// (kernel/notifier.c) keeps the list sorted by descending priority, and
// notifier_call_chain() walks it from head through ->next.
func readChains(t *target.Target, r *Report) {
	for _, def := range chainDefs {
		head, err := t.Kernel.Global(def.name, def.headType)
		if err != nil {
			if def.optional && errors.Is(err, kernel.ErrAbsent) {
				continue
			}
			r.fail(finding.About(finding.AreaChain, def.name), err)
			continue
		}
		c := Chain{Name: def.name, Address: hex(head.Addr), Entries: []ChainEntry{}}
		first, err := head.Member("head")
		var firstAddr uint64
		if err == nil {
			firstAddr, err = first.Pointer()
		}
		if err != nil {
			c.Broken = fmt.Sprintf("head unreadable: %v", err)
			r.fail(finding.About(finding.AreaChain, def.name), fmt.Errorf("head unreadable: %w", err))
			r.Chains = append(r.Chains, c)
			continue
		}
		err = t.Kernel.SListForEachEntry(firstAddr, "struct notifier_block", "next", maxChainEntries, func(nb kernel.Object) error {
			e := ChainEntry{Address: hex(nb.Addr)}
			cb, err := memberPointer(nb, "notifier_call")
			if err != nil {
				return err
			}
			e.Callback, e.Module, e.Location = describeCode(t, cb)
			if p, err := memberInt(nb, "priority"); err == nil {
				e.Priority = ptr(int(p))
			}
			c.Entries = append(c.Entries, e)
			return nil
		})
		if err != nil {
			c.Broken = err.Error()
			r.Problems.Add(finding.New(kindOf(err), finding.About(finding.AreaChain, def.name),
				fmt.Errorf("walk stopped after %d entries: %w", len(c.Entries), err)))
		} else {
			c.Complete = true
		}
		r.Chains = append(r.Chains, c)
	}
}

// describeCode names a code address: bare symbol, module, and the %pS form.
func describeCode(t *target.Target, addr uint64) (name, module, location string) {
	if t.Syms == nil {
		return hex(addr), "", hex(addr)
	}
	sym, off, ok := t.Syms.ByAddr(addr)
	if !ok {
		return hex(addr), "", hex(addr)
	}
	name = sym.Name
	if off != 0 {
		name = fmt.Sprintf("%s+%#x", sym.Name, off)
	}
	return name, sym.Module, t.Syms.Format(addr)
}

func memberPointer(o kernel.Object, path string) (uint64, error) {
	m, err := o.Member(path)
	if err != nil {
		return 0, err
	}
	return m.Pointer()
}

func memberInt(o kernel.Object, path string) (int64, error) {
	m, err := o.Member(path)
	if err != nil {
		return 0, err
	}
	return m.Int()
}

func memberUint(o kernel.Object, path string) (uint64, error) {
	m, err := o.Member(path)
	if err != nil {
		return 0, err
	}
	return m.Uint()
}

func hex(v uint64) string { return fmt.Sprintf("%#x", v) }
