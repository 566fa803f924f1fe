package kernel

import (
	"encoding/binary"
	"fmt"

	"github.com/panicscope/panicscope/vmcore/vmem"
)

// MaxCPUs caps CPU numbers: the largest CONFIG_NR_CPUS on x86_64.
const MaxCPUs = 8192

// NrCPUIDs is nr_cpu_ids (kernel/smp.c), bounded by MaxCPUs; MaxCPUs when
// the symbol is absent or unreadable.
func (k *Kernel) NrCPUIDs() int {
	if a, err := k.Symbol("nr_cpu_ids"); err == nil {
		if v, err := vmem.ReadU32(k.Mem, a); err == nil && v > 0 && v <= MaxCPUs {
			return int(v)
		}
	}
	return MaxCPUs
}

// PerCPU is per_cpu_ptr(symbolAddr, cpu) (include/asm-generic/percpu.h):
// symbolAddr + __per_cpu_offset[cpu]. A kernel without __per_cpu_offset
// (!CONFIG_SMP) has only CPU 0, at symbolAddr.
func (k *Kernel) PerCPU(symbolAddr uint64, cpu int) (uint64, error) {
	if cpu < 0 || cpu >= MaxCPUs {
		return 0, fmt.Errorf("cpu %d: %w", cpu, ErrRange)
	}
	if k.PerCPUOffsets != nil {
		if cpu >= len(k.PerCPUOffsets) {
			return 0, fmt.Errorf("cpu %d of %d: %w", cpu, len(k.PerCPUOffsets), ErrRange)
		}
		return symbolAddr + k.PerCPUOffsets[cpu], nil
	}
	base, err := k.Symbol("__per_cpu_offset")
	if err != nil {
		if cpu == 0 {
			return symbolAddr, nil
		}
		return 0, err
	}
	if cpu >= k.NrCPUIDs() {
		return 0, fmt.Errorf("cpu %d, nr_cpu_ids %d: %w", cpu, k.NrCPUIDs(), ErrRange)
	}
	off, err := vmem.ReadU64(k.Mem, base+8*uint64(cpu))
	if err != nil {
		return 0, err
	}
	return symbolAddr + off, nil
}

// ReadPerCPUOffsets reads __per_cpu_offset[0, nr_cpu_ids) (arch/x86/kernel/
// setup_percpu.c); set the result as PerCPUOffsets to avoid re-reading.
func (k *Kernel) ReadPerCPUOffsets() ([]uint64, error) {
	base, err := k.Symbol("__per_cpu_offset")
	if err != nil {
		return nil, err
	}
	n := k.NrCPUIDs()
	buf := make([]byte, 8*n)
	if err := k.Mem.ReadVirt(buf, base); err != nil {
		return nil, err
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
	return out, nil
}
