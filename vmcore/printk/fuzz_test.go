package printk

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/panicscope/panicscope/vmcore/vmem"
)

// FuzzRecordDecoder feeds hostile ring structures, descriptors, infos and
// data (lengths, wrapped positions, state bits, counts, pointers) to both
// readers: they must return an error or a consistent Log, never panic.
func FuzzRecordDecoder(f *testing.F) {
	r := newTestRing(4, 10)
	for i := 0; i < 20; i++ {
		r.add(tRec{text: fmt.Sprintf("seed record %d\nsecond line", i), flags: LogNewline, caller: uint32(i)})
	}
	r.add(tRec{dataless: true, lpos: noLpos})
	r.add(tRec{text: "reserved", setState: true, state: descReserved})
	info := r.info()
	f.Add(r.rbStruct(), r.descs, r.infos, r.data)
	small := newTestRing(2, 6)
	for i := 0; i < 9; i++ {
		small.add(tRec{text: filler(i, 3+i*2), textLen: i * 7})
	}
	f.Add(small.rbStruct(), small.descs, small.infos, small.data)

	lb := newLegacyBuf(256, true)
	for i := 0; i < 12; i++ {
		lb.add(fmt.Sprintf("legacy %d", i), "SUBSYSTEM=x\x00DEVICE=y", uint64(i), 6, LogNewline, 1)
	}
	legacyInfo := func() []byte {
		b := make([]byte, 16)
		binary.LittleEndian.PutUint32(b[4:], uint32(len(lb.buf)))
		binary.LittleEndian.PutUint32(b[8:], lb.firstIdx)
		binary.LittleEndian.PutUint32(b[12:], lb.nextIdx)
		return b
	}()
	f.Add(legacyInfo, []byte{}, []byte{}, lb.buf)
	_, linfo := lb.fake()

	f.Fuzz(func(t *testing.T, rb, descs, infos, data []byte) {
		if len(rb) > 4096 || len(descs) > 1<<16 || len(infos) > 1<<18 || len(data) > 1<<16 {
			return
		}
		mem := &vmem.Fake{}
		mem.Map(tPrbSym, binary.LittleEndian.AppendUint64(nil, tRB))
		if len(rb) > 0 {
			mem.Map(tRB, rb)
		}
		if len(descs) > 0 {
			mem.Map(tDescs, descs)
		}
		if len(infos) > 0 {
			mem.Map(tInfos, infos)
		}
		if len(data) > 0 {
			mem.Map(tData, data)
		}
		if l, err := Read(mem, info); err == nil {
			checkLog(t, l)
		}

		// The same bytes as a legacy log_buf.
		lm := &vmem.Fake{}
		lm.Map(tLogBufPtr, binary.LittleEndian.AppendUint64(nil, tLogBufData))
		var hdr [16]byte
		copy(hdr[:], rb)
		lm.Map(tLogBufLen, hdr[4:8])
		lm.Map(tLogFirst, hdr[8:12])
		lm.Map(tLogNext, hdr[12:16])
		if len(data) > 0 {
			lm.Map(tLogBufData, data)
		}
		if l, err := Read(lm, linfo); err == nil {
			checkLog(t, l)
		}

		// And the block locator on its own.
		if len(rb) >= 17 {
			begin := binary.LittleEndian.Uint64(rb)
			next := binary.LittleEndian.Uint64(rb[8:])
			bits := uint(rb[16] % 31)
			for _, ws := range []uint64{4, 8} {
				if kind, off, size := textBlock(begin, next, bits, ws); kind == blkData && (off+size > 1<<bits || size < ws) {
					t.Fatalf("textBlock(%#x, %#x, %d, %d) = %d+%d", begin, next, bits, ws, off, size)
				}
			}
		}
	})
}

func checkLog(t *testing.T, l *Log) {
	t.Helper()
	for i, r := range l.Records {
		if i > 0 && r.Seq <= l.Records[i-1].Seq {
			t.Fatalf("records out of order: %d after %d", r.Seq, l.Records[i-1].Seq)
		}
		if uint64(len(r.Text)) > l.Size {
			t.Fatalf("record %d text %d bytes > ring %d", r.Seq, len(r.Text), l.Size)
		}
	}
	for _, g := range l.Gaps {
		if g.FirstSeq > g.LastSeq && l.Source == SourceLegacy {
			t.Fatalf("gap %+v", g)
		}
	}
	_ = l.Lines()
	_, _, _ = l.PanicMessage()
}
