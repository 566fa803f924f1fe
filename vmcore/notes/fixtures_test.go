package notes

import (
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
)

// subHeaderNotes reads the ELF notes that makedumpfile and QEMU copy into a
// kdump-compressed file: struct kdump_sub_header (makedumpfile
// diskdump_mod.h) sits in block 1 (block_size is at offset 428 of struct
// disk_dump_header: after signature, header_version, utsname and timestamp); offset_note/size_note are at 48/56 and
// offset_vmcoreinfo/size_vmcoreinfo at 32/40 (header_version >= 3).
func subHeaderNotes(t *testing.T, path string) (noteBlob, vmcoreinfo []byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("%s: %v", path, err)
	}
	defer f.Close()
	hdr := make([]byte, 432)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		t.Fatal(err)
	}
	if string(hdr[:8]) != "KDUMP   " {
		t.Fatalf("%s: not a kdump-compressed file", path)
	}
	le := binary.LittleEndian
	blockSize := int64(le.Uint32(hdr[428:]))
	if blockSize != 4096 {
		t.Fatalf("%s: block_size %d", path, blockSize)
	}
	sub := make([]byte, 64)
	if _, err := f.ReadAt(sub, blockSize); err != nil {
		t.Fatal(err)
	}
	read := func(off, size uint64) []byte {
		if size == 0 {
			return nil
		}
		if size > 1<<20 {
			t.Fatalf("%s: sub-header size %d too large", path, size)
		}
		b := make([]byte, size)
		if _, err := f.ReadAt(b, int64(off)); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		return b
	}
	return read(le.Uint64(sub[48:]), le.Uint64(sub[56:])), read(le.Uint64(sub[32:]), le.Uint64(sub[40:]))
}

func panicPid(t *testing.T, f testfixtures.Fixture) int32 {
	exp, _ := f.Meta.Raw["expected"].(map[string]any)
	task, _ := exp["panic_task"].(map[string]any)
	pid, ok := task["pid"].(float64)
	if !ok {
		t.Fatalf("%s: no expected.panic_task.pid", f.Name)
	}
	return int32(pid)
}

// TestFixtureSubHeaderNotes parses the notes of every kdump-compressed
// fixture and checks them against meta.json.
func TestFixtureSubHeaderNotes(t *testing.T) {
	for _, f := range testfixtures.All(t) {
		t.Run(f.Name, func(t *testing.T) {
			blob, subVMCI := subHeaderNotes(t, filepath.Join(f.Dir, "vmcore"))
			ns, err := Parse(blob)
			if err != nil {
				t.Fatal(err)
			}
			ps, err := PRStatuses(ns)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != 2 {
				t.Fatalf("%d NT_PRSTATUS notes, want 2 (2 vCPUs)", len(ps))
			}
			for i, p := range ps {
				if p.Regs.IP()>>31 != 0x1ffffffff || p.Regs.CS != 0x10 {
					t.Errorf("cpu %d: RIP %#x CS %#x: not kernel text / __KERNEL_CS", i, p.Regs.IP(), p.Regs.CS)
				}
			}
			qemu := strings.HasPrefix(f.Name, "qemu-")
			qs, err := QEMUCPUs(ns)
			if err != nil {
				t.Fatal(err)
			}
			if qemu {
				if len(qs) != 2 {
					t.Fatalf("%d QEMU notes, want 2", len(qs))
				}
				for i, q := range qs {
					// QEMU writes pr_pid = vCPU index + 1 and the same registers in both notes.
					if ps[i].Pid != int32(i+1) || q.RIP != ps[i].Regs.RIP || q.RSP != ps[i].Regs.RSP ||
						q.GSBase() != ps[i].Regs.GSBase || q.CR3 == 0 || !q.HasKernelGSBase {
						t.Errorf("cpu %d: prstatus pid %d rip %#x gs %#x vs QEMU rip %#x gs %#x cr3 %#x",
							i, ps[i].Pid, ps[i].Regs.RIP, ps[i].Regs.GSBase, q.RIP, q.GSBase(), q.CR3)
					}
					if want := f.Name == "qemu-6.1-lp-warn"; q.LA57() != want {
						t.Errorf("cpu %d: LA57 %v (CR4 %#x), want %v", i, q.LA57(), q.CR4, want)
					}
				}
			} else {
				if len(qs) != 0 {
					t.Fatalf("makedumpfile dump with %d QEMU notes", len(qs))
				}
				// crash_save_cpu() stores current->pid: the panicking task on
				// the panic CPU, the idle task (0) on the other one.
				if got, want := ps[f.Meta.Expected.PanicCPU].Pid, panicPid(t, f); got != want {
					t.Errorf("panic CPU %d prstatus pid %d, want %d", f.Meta.Expected.PanicCPU, got, want)
				}
			}
			vmci := FindVMCOREINFO(ns)
			if f.Name == "qemu-6.1-novmcoreinfo" {
				if vmci != nil || subVMCI != nil {
					t.Fatalf("VMCOREINFO present: note %d bytes, sub-header %d bytes", len(vmci), len(subVMCI))
				}
				return
			}
			if !strings.HasPrefix(string(vmci), "OSRELEASE="+f.Meta.KernelRelease+"\n") {
				t.Errorf("VMCOREINFO note starts %.40q", vmci)
			}
			if string(vmci) != strings.TrimRight(string(subVMCI), "\x00") {
				t.Errorf("VMCOREINFO note (%d bytes) differs from the sub-header copy (%d bytes)", len(vmci), len(subVMCI))
			}
		})
	}
}
