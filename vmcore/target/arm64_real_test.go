package target_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/target"
)

// TestArm64SymbolsTypesModules: every arm64 dump file loads kallsyms from
// VMCOREINFO and BTF from memory without problems; the modules are drgn's
// (name, base, size), and the arm64 types the unwinder reads are there.
func TestArm64SymbolsTypesModules(t *testing.T) {
	for _, fx := range testfixtures.AllArm64(t) {
		for _, file := range fx.Meta.Files {
			t.Run(fx.Name+"/"+file.Name, func(t *testing.T) {
				p := filepath.Join(fx.Dir, file.Name)
				if strings.HasSuffix(p, ".zst") {
					p = testfixtures.Decompressed(t, p)
				}
				tg, err := target.Open(p, target.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer tg.Close()
				tg.Load()
				if pr := tg.Problems(); len(pr) > 0 {
					t.Errorf("problems: %v", pr)
				}
				if !strings.Contains(tg.SymbolSource, "kallsyms") || tg.Kernel.Types == nil {
					t.Fatalf("symbols %q, types %v", tg.SymbolSource, tg.Kernel.Types)
				}
				var got, want []string
				for _, m := range tg.Modules {
					got = append(got, fmt.Sprintf("%s@%#x+%d", m.Name, m.Base, m.Size))
				}
				facts, _ := fx.Meta.Raw["expected_from_memory_drgn"].(map[string]any)
				for _, m := range facts["modules"].([]any) {
					m := m.(map[string]any)
					want = append(want, fmt.Sprintf("%s@%s+%d", m["name"], m["base"], int(m["size"].(float64))))
				}
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("modules %v, drgn %v", got, want)
				}
				for _, m := range []struct{ typ, member string }{
					{"struct pt_regs", "stackframe"}, {"struct task_struct", "thread.cpu_context.pc"}, {"struct rq", "curr"},
				} {
					if _, err := tg.Kernel.OffsetOf(m.typ, m.member); err != nil {
						t.Errorf("%s.%s: %v", m.typ, m.member, err)
					}
				}
			})
		}
	}
}
