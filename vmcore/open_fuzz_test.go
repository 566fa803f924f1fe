package vmcore

import (
	"bytes"
	"testing"
)

// FuzzOpen feeds arbitrary files to format detection and the readers
// behind it: an error or a Dump, never a panic; reads on a Dump that opened
// must fail cleanly too.
func FuzzOpen(f *testing.F) {
	f.Add([]byte("KDUMP   \x06\x00\x00\x00"))
	f.Add([]byte("makedumpfile\x00\x00\x00\x00\x01\x00\x00\x00"))
	f.Add([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00\x3e\x00"))
	f.Add([]byte("OSRELEASE=6.1.0\nSYMBOL(init_top_pgt)=ffffffff82000000\n"))
	f.Add([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00\xb7\x00")) // EM_AARCH64
	f.Add([]byte("OSRELEASE=6.12.0\nPAGESIZE=4096\nSYMBOL(swapper_pg_dir)=ffffc728eeb3a000\nNUMBER(VA_BITS)=52\n" +
		"NUMBER(kimage_voffset)=0xffffc728acc00000\nNUMBER(PHYS_OFFSET)=0xfff1000040000000\nNUMBER(TCR_EL1_T1SZ)=0x10\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := openReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if d != nil {
				t.Fatal("error with a non-nil dump")
			}
			return
		}
		buf := make([]byte, 64)
		_ = d.ReadPhys(buf, 0)
		_ = d.ReadPhys(buf, 4090)
		_ = d.ReadVirt(buf, 0xffffffff81000000)
		_, _ = d.UTSName()
	})
}
