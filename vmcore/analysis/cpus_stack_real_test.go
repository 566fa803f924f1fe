package analysis_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/target"
)

// TestCPUStacksAndRoles: every CPU gets its unwound stack; the panicking CPU
// is in panic()'s delay loop (QEMU) or in __crash_kexec() <- panic() (kdump),
// the other one in stop_this_cpu() (QEMU) or interrupted by the crash NMI
// (kdump); the kdump timeline's crash_kexec step cites the stack.
func TestCPUStacksAndRoles(t *testing.T) {
	for _, fx := range testfixtures.All(t) {
		t.Run(fx.Name, func(t *testing.T) {
			tg, err := target.Open(filepath.Join(fx.Dir, "vmcore"), target.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			r := analysis.Build(tg)
			kdump := strings.HasPrefix(fx.Name, "kdump-")
			for _, c := range r.CPUs {
				if len(c.Stack) < 5 {
					t.Errorf("cpu %d: stack %v", c.CPU, c.Stack)
					continue
				}
				joined := strings.Join(c.Stack, " ")
				switch {
				case c.Role == analysis.RolePanicking && kdump:
					if !strings.HasPrefix(c.Stack[0], "__crash_kexec+") || !strings.HasPrefix(c.Stack[1], "panic+") {
						t.Errorf("kdump panicking cpu: %v", c.Stack)
					}
				case c.Role == analysis.RolePanicking:
					if !strings.HasPrefix(c.Stack[0], "delay_tsc+") || !strings.Contains(joined, " panic+") {
						t.Errorf("qemu panicking cpu: %v", c.Stack)
					}
				case kdump:
					if c.Role != analysis.RoleCrashNMI || !strings.Contains(c.RoleWhy, "do_idle") {
						t.Errorf("kdump other cpu: %s (%s)", c.Role, c.RoleWhy)
					}
				default:
					if c.Role != analysis.RoleStopped || !strings.HasPrefix(c.Stack[0], "stop_this_cpu+") {
						t.Errorf("qemu other cpu: %s %v", c.Role, c.Stack)
					}
				}
			}
			if !kdump {
				return
			}
			for _, s := range r.Timeline {
				if s.Step != timeline.StepCrashKexec || s.Status != timeline.Running {
					continue
				}
				for _, e := range s.Evidence {
					if e.Kind == timeline.EvCPU && strings.Contains(e.Text, "__crash_kexec < panic") {
						return
					}
				}
				t.Errorf("crash_kexec step does not cite the stack: %+v", s.Evidence)
				return
			}
			t.Errorf("no running crash_kexec step")
		})
	}
}
