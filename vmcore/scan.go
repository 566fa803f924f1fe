package vmcore

import (
	"bytes"

	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
)

// vmcoreinfoBytes bounds the text: VMCOREINFO_BYTES is PAGE_SIZE
// (include/linux/crash_core.h).
const vmcoreinfoBytes = phys.PageSize

const scanChunk = 1 << 20

// scanForVMCOREINFO looks for the kernel's own VMCOREINFO text in physical
// memory, for dumps whose writer did not include it (QEMU without
// -device vmcoreinfo). crash_save_vmcoreinfo_init() builds the text at boot
// in vmcoreinfo_data, a page of its own, so a page-aligned "OSRELEASE=" is
// preferred over other copies (the vmcoreinfo_note ELF note holds one too).
func (d *Dump) scanForVMCOREINFO() {
	key := []byte("OSRELEASE=")
	var best *vmcoreinfo.Info
	var bestAddr uint64
	buf := make([]byte, scanChunk)
	for _, r := range d.PhysRanges() {
		for start := r.Start &^ (phys.PageSize - 1); start < r.End; start += scanChunk {
			n := uint64(scanChunk)
			if start+n > r.End {
				n = (r.End - start + phys.PageSize - 1) &^ (phys.PageSize - 1)
			}
			chunk := buf[:n]
			d.readChunkZeroFill(chunk, start)
			for off := 0; ; {
				i := bytes.Index(chunk[off:], key)
				if i < 0 {
					break
				}
				at := start + uint64(off+i)
				off += i + len(key)
				info := d.parseCandidate(at)
				if info == nil {
					continue
				}
				if _, err := info.Symbol("init_top_pgt"); err != nil {
					if _, err := info.Symbol("swapper_pg_dir"); err != nil {
						continue
					}
				}
				if best == nil || (at%phys.PageSize == 0 && bestAddr%phys.PageSize != 0) {
					best, bestAddr = info, at
				}
				if at%phys.PageSize == 0 {
					d.info, d.InfoSource, d.InfoAddr = best, InfoFromMemoryScan, bestAddr
					d.warn("no VMCOREINFO in the dump file: using the kernel's copy found in memory at physical %#x", bestAddr)
					return
				}
			}
		}
	}
	if best != nil {
		d.info, d.InfoSource, d.InfoAddr = best, InfoFromMemoryScan, bestAddr
		d.warn("no VMCOREINFO in the dump file: using a copy found in memory at physical %#x", bestAddr)
		return
	}
	d.warn("no VMCOREINFO in the dump file, and none found in memory")
}

// readChunkZeroFill reads a chunk page by page, leaving absent pages zero.
func (d *Dump) readChunkZeroFill(chunk []byte, start uint64) {
	if err := d.mem.ReadPhys(chunk, start); err == nil {
		return
	}
	for off := 0; off < len(chunk); off += phys.PageSize {
		end := min(off+phys.PageSize, len(chunk))
		if err := d.mem.ReadPhys(chunk[off:end], start+uint64(off)); err != nil {
			clear(chunk[off:end])
		}
	}
}

func (d *Dump) parseCandidate(at uint64) *vmcoreinfo.Info {
	text := make([]byte, vmcoreinfoBytes)
	n := len(text)
	if err := d.mem.ReadPhys(text, at); err != nil {
		// The next page may be absent: the text still fits in this one.
		n = int(phys.PageSize - at%phys.PageSize)
		if err := d.mem.ReadPhys(text[:n], at); err != nil {
			return nil
		}
	}
	info, err := vmcoreinfo.Parse(text[:n])
	if err != nil {
		return nil
	}
	return info
}
