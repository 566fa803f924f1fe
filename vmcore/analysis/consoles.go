package analysis

import (
	"fmt"

	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/target"
)

// conEnabled is CON_ENABLED (include/linux/console.h).
const conEnabled = 4

// readConsoles lists registered consoles: console_drivers, a list through
// console.next, before 6.2; console_list, an hlist through console.node, after.
func readConsoles(t *target.Target, r *Report) {
	k := t.Kernel
	add := func(c kernel.Object) error {
		con := Console{}
		if n, err := c.Member("name"); err == nil {
			if s, err := n.CString(16); err == nil {
				con.Name = &s
			}
		}
		if v, err := memberInt(c, "index"); err == nil {
			con.Index = ptr(int(v))
		}
		if v, err := memberUint(c, "flags"); err == nil {
			con.Flags, con.Enabled = &v, ptr(v&conEnabled != 0)
		}
		r.Consoles = append(r.Consoles, con)
		return nil
	}
	if head, err := k.Global("console_drivers", "struct console *"); err == nil {
		first, err := head.Pointer()
		if err == nil {
			err = k.SListForEachEntry(first, "struct console", "next", 64, add)
		}
		if err != nil {
			r.fail(finding.About(finding.AreaConsoles), err)
		}
		return
	}
	head, err := k.Global("console_list", "struct hlist_head")
	if err != nil {
		r.Problems.Add(finding.New(kindOf(err), finding.About(finding.AreaConsoles), fmt.Errorf("neither console_drivers nor console_list: %w", err)))
		return
	}
	first, err := memberPointer(head, "first")
	if err == nil {
		off, oerr := k.OffsetOf("struct console", "node")
		if oerr != nil {
			err = oerr
		} else {
			err = k.SListForEach(first, 0, 64, func(node uint64) error {
				c, err := k.Object(node-off, "struct console")
				if err != nil {
					return err
				}
				return add(c)
			})
		}
	}
	if err != nil {
		r.fail(finding.About(finding.AreaConsoles), err)
	}
}
