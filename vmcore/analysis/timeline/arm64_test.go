package timeline

import (
	"strings"
	"testing"
)

// TestArm64StopNotes: an arm64 kernel's steps cite arm64's CPU-stop
// mechanisms, never x86's, and its stopped CPUs are classified from arm64
// frames (local_cpu_stop; the crash-stop IPI's crash_save_cpu under
// ipi_handler).
func TestArm64StopNotes(t *testing.T) {
	for _, post := range []bool{false, true} {
		loaded := true
		_, steps := Build(Inputs{Release: "6.12.118+deb13-arm64", Arch: "aarch64", PostNotifiers: &post, CrashKernelLoaded: &loaded})
		var notes []string
		for _, s := range steps {
			notes = append(notes, s.Note)
		}
		all := strings.Join(notes, "\n")
		if strings.Contains(all, "arch/x86") || !strings.Contains(all, "arch/arm64/kernel/") {
			t.Errorf("post=%v notes:\n%s", post, all)
		}
	}
	_, steps := Build(Inputs{Release: "6.12.117+deb13-amd64"})
	for _, s := range steps {
		if strings.Contains(s.Note, "arch/arm64") {
			t.Errorf("x86_64 step %s cites arm64: %s", s.Step, s.Note)
		}
	}
	for _, c := range []struct {
		frames []string
		crash  bool
	}{
		{[]string{"local_cpu_stop+0x30/0x40", "ipi_handler+0x1e4/0x1f0"}, false},
		{[]string{"crash_save_cpu+0xa8/0xf0", "ipi_handler+0xd4/0x1f0", "gic_handle_irq+0x60/0xa0"}, true},
	} {
		st, crash := otherCPUState(CPUEvidence{CPU: 0, Frames: c.frames})
		if st == "" || crash != c.crash {
			t.Errorf("%v: %q crash-stop %v", c.frames, st, crash)
		}
	}
}
