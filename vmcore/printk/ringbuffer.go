package printk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// Bounds on values read from the dump (the kernel caps log_buf_len at 2 GiB,
// LOG_BUF_LEN_MAX, so neither ring gets near 2^30 entries or bytes).
const (
	maxRingBits   = 30
	maxStructSize = 4096
)

// Descriptor states: the top two bits of prb_desc.state_var (enum desc_state,
// DESC_STATE() in kernel/printk/printk_ringbuffer.h; the same four states in
// 5.10 and 6.x).
const (
	descReserved  = 0
	descCommitted = 1
	descFinalized = 2
	descReusable  = 3
)

// Special lpos values of data-less blocks (printk_ringbuffer.h).
const (
	failedLpos = 0x1 // FAILED_LPOS: the text could not be stored
	noLpos     = 0x3 // NO_LPOS: a record with no text at all
)

// prbLayout is where everything sits, from VMCOREINFO OFFSET/SIZE lines
// (log_buf_vmcoreinfo_setup() in kernel/printk/printk.c).
type prbLayout struct {
	ws uint64 // sizeof(unsigned long): SIZE(atomic_long_t)

	rbSize, descRing, textRing, fail                      int64
	countBits, descs, infos, headID, tailID               int64
	descSize, stateVar, textBlk, lposBegin, lposNext      int64
	infoSize, seq, ts, textLen, facility, flags, callerID int64
	devInfo, subsys, subsysLen, device, deviceLen         int64
	sizeBits, data, headLpos, tailLpos, counter           int64
}

// keys collects missing VMCOREINFO lines, and lines whose value no member
// offset, structure size or array length can have.
type keys struct {
	info    *vmcoreinfo.Info
	missing []string
	bad     []string
}

func (k *keys) get(kind, name string, opt bool) int64 {
	var v int64
	var err error
	switch kind {
	case "OFFSET":
		v, err = k.info.Offset(name)
	case "SIZE":
		v, err = k.info.Size(name)
	case "LENGTH":
		v, err = k.info.Length(name)
	}
	if err != nil {
		if !opt {
			k.missing = append(k.missing, kind+"("+name+")")
		}
		return -1
	}
	// Bounding every value by a structure's size keeps the sums of up to
	// three of them used below far from overflowing.
	if v < 0 || v > maxStructSize {
		k.bad = append(k.bad, fmt.Sprintf("%s(%s)=%d", kind, name, v))
		return -1
	}
	return v
}

// err reports missing or implausible lines.
func (k *keys) err() error {
	var errs []error
	if len(k.missing) > 0 {
		errs = append(errs, fmt.Errorf("printk: VMCOREINFO lacks %s", strings.Join(k.missing, ", ")))
	}
	if len(k.bad) > 0 {
		errs = append(errs, fmt.Errorf("printk: implausible VMCOREINFO %s", strings.Join(k.bad, ", ")))
	}
	return errors.Join(errs...)
}

func (k *keys) off(name string) int64    { return k.get("OFFSET", name, false) }
func (k *keys) optOff(name string) int64 { return k.get("OFFSET", name, true) }
func (k *keys) size(name string) int64   { return k.get("SIZE", name, false) }

// infoFlagOffsets derives where printk_info.facility and the flags/level
// byte sit: VMCOREINFO has no OFFSET line for them. struct printk_info
// (kernel/printk/printk_ringbuffer.h, 5.10 through 6.x) is
//
//	u64 seq; u64 ts_nsec; u16 text_len; u8 facility; u8 flags:5; u8 level:3;
//	u32 caller_id; struct dev_printk_info dev_info;
//
// so facility is the byte right after the u16 text_len and the bitfield byte
// follows it. GCC allocates bitfields from the least significant bit on
// little-endian x86_64: flags is the low 5 bits, level the high 3 (crash's
// printk.c reads the level as that byte >> 5).
func infoFlagOffsets(textLen int64) (facility, flagsLevel int64) {
	return textLen + 2, textLen + 3
}

func ringLayout(info *vmcoreinfo.Info) (*prbLayout, error) {
	k := &keys{info: info}
	l := &prbLayout{ws: 8}
	if ws, err := info.Size("atomic_long_t"); err == nil {
		if ws != 4 && ws != 8 {
			return nil, fmt.Errorf("printk: SIZE(atomic_long_t)=%d", ws)
		}
		l.ws = uint64(ws)
	}
	l.rbSize = k.size("printk_ringbuffer")
	l.descRing = k.off("printk_ringbuffer.desc_ring")
	l.textRing = k.off("printk_ringbuffer.text_data_ring")
	l.fail = k.optOff("printk_ringbuffer.fail")
	l.countBits = k.off("prb_desc_ring.count_bits")
	l.descs = k.off("prb_desc_ring.descs")
	l.infos = k.off("prb_desc_ring.infos")
	l.headID = k.off("prb_desc_ring.head_id")
	l.tailID = k.off("prb_desc_ring.tail_id")
	l.descSize = k.size("prb_desc")
	l.stateVar = k.off("prb_desc.state_var")
	l.textBlk = k.off("prb_desc.text_blk_lpos")
	l.lposBegin = k.off("prb_data_blk_lpos.begin")
	l.lposNext = k.off("prb_data_blk_lpos.next")
	l.infoSize = k.size("printk_info")
	l.seq = k.off("printk_info.seq")
	l.ts = k.off("printk_info.ts_nsec")
	l.textLen = k.off("printk_info.text_len")
	l.callerID = k.optOff("printk_info.caller_id")
	l.devInfo = k.optOff("printk_info.dev_info")
	l.subsys = k.optOff("dev_printk_info.subsystem")
	l.device = k.optOff("dev_printk_info.device")
	l.subsysLen = k.get("LENGTH", "printk_info_subsystem", true)
	l.deviceLen = k.get("LENGTH", "printk_info_device", true)
	l.sizeBits = k.off("prb_data_ring.size_bits")
	l.data = k.off("prb_data_ring.data")
	l.headLpos = k.off("prb_data_ring.head_lpos")
	l.tailLpos = k.off("prb_data_ring.tail_lpos")
	l.counter = k.optOff("atomic_long_t.counter")
	if l.counter < 0 {
		l.counter = 0
	}
	if err := k.err(); err != nil {
		return nil, err
	}
	l.facility, l.flags = infoFlagOffsets(l.textLen)
	if l.callerID >= 0 && l.callerID != l.textLen+4 {
		return nil, layoutErrorf("printk_info.caller_id at %d is not 4 bytes after text_len (%d): facility and the flags/level byte cannot be placed", l.callerID, l.textLen)
	}
	if l.subsysLen < 0 {
		l.subsysLen = 16 // PRINTK_INFO_SUBSYSTEM_LEN
	}
	if l.deviceLen < 0 {
		l.deviceLen = 48 // PRINTK_INFO_DEVICE_LEN
	}
	if l.devInfo < 0 || l.subsys < 0 || l.device < 0 {
		l.devInfo = -1
	}
	ws := int64(l.ws)
	type field struct {
		name      string
		off, size int64
		in        int64
	}
	for _, f := range []field{
		{"printk_ringbuffer", 0, l.rbSize, maxStructSize},
		{"prb_desc", 0, l.descSize, maxStructSize},
		{"printk_info", 0, l.infoSize, maxStructSize},
		{"desc_ring.count_bits", l.descRing + l.countBits, 4, l.rbSize},
		{"desc_ring.descs", l.descRing + l.descs, ws, l.rbSize},
		{"desc_ring.infos", l.descRing + l.infos, ws, l.rbSize},
		{"desc_ring.head_id", l.descRing + l.headID + l.counter, ws, l.rbSize},
		{"desc_ring.tail_id", l.descRing + l.tailID + l.counter, ws, l.rbSize},
		{"text_data_ring.size_bits", l.textRing + l.sizeBits, 4, l.rbSize},
		{"text_data_ring.data", l.textRing + l.data, ws, l.rbSize},
		{"text_data_ring.head_lpos", l.textRing + l.headLpos + l.counter, ws, l.rbSize},
		{"text_data_ring.tail_lpos", l.textRing + l.tailLpos + l.counter, ws, l.rbSize},
		{"prb_desc.state_var", l.stateVar + l.counter, ws, l.descSize},
		{"prb_desc.text_blk_lpos.begin", l.textBlk + l.lposBegin, ws, l.descSize},
		{"prb_desc.text_blk_lpos.next", l.textBlk + l.lposNext, ws, l.descSize},
		{"printk_info.seq", l.seq, 8, l.infoSize},
		{"printk_info.ts_nsec", l.ts, 8, l.infoSize},
		{"printk_info.text_len..level", l.textLen, 4, l.infoSize},
	} {
		if f.off < 0 || f.size <= 0 || f.off+f.size > f.in {
			return nil, layoutErrorf("VMCOREINFO %s at %d+%d does not fit in %d bytes", f.name, f.off, f.size, f.in)
		}
	}
	if l.fail >= 0 && l.fail+l.counter+ws > l.rbSize {
		l.fail = -1
	}
	if l.callerID >= 0 && l.callerID+4 > l.infoSize {
		l.callerID = -1
	}
	if l.devInfo >= 0 && (l.subsysLen > 256 || l.deviceLen > 256 ||
		l.devInfo+l.subsys+l.subsysLen > l.infoSize || l.devInfo+l.device+l.deviceLen > l.infoSize) {
		l.devInfo = -1
	}
	return l, nil
}

func (l *prbLayout) word(b []byte, off int64) uint64 {
	if l.ws == 4 {
		return uint64(binary.LittleEndian.Uint32(b[off:]))
	}
	return binary.LittleEndian.Uint64(b[off:])
}

// Block kinds returned by textBlock.
const (
	blkData    = iota // a data block: off/size are valid
	blkEmpty          // NO_LPOS: a record without text
	blkFailed         // FAILED_LPOS: the text was never stored
	blkIllegal        // an lpos pair get_data() rejects
)

// textBlock locates a record's data block in the text ring the way
// get_data() (kernel/printk/printk_ringbuffer.c) does. off is the ring index
// of the block (its ID word) and size the block bytes including the ID. A
// block that would run past the end of the ring is stored whole at index 0,
// with @begin still pointing at its ID before the wrap: then the block is
// wrapped and the size is DATA_INDEX(next).
//
// Wrapped is is_blk_wrapped() of 7.x: DATA_WRAPS(begin) !=
// DATA_WRAPS(next - 1), so a block ending exactly at the end of the ring
// stays in place. 6.x compared DATA_WRAPS(next) and its get_next_lpos()
// moved such a block to index 0 instead; every block a 6.x kernel writes
// reads the same under both rules.
func textBlock(begin, next uint64, sizeBits uint, ws uint64) (kind int, off, size uint64) {
	wmask := ^uint64(0) >> (64 - 8*ws)
	begin &= wmask
	next &= wmask
	ringSize := uint64(1) << sizeBits
	wraps := func(lpos uint64) uint64 { return lpos >> sizeBits } // DATA_WRAPS()
	wrapped := func(b, n uint64) bool { return wraps(b&wmask) != wraps((n-1)&wmask) }
	switch {
	case begin&1 == 1 && next&1 == 1: // BLK_DATALESS()
		if begin == noLpos && next == noLpos {
			return blkEmpty, 0, 0
		}
		return blkFailed, 0, 0
	case !wrapped(begin, next):
		// next - begin in unsigned long arithmetic: the first blocks sit
		// just below 2^BITS_PER_LONG (BLK0_LPOS() is -size), and one that
		// ends at the end of the ring has next = 0.
		off, size = begin&(ringSize-1), (next-begin)&wmask
	case !wrapped(begin+ringSize, next):
		off, size = 0, next&(ringSize-1)
	default:
		return blkIllegal, 0, 0
	}
	// A valid block is aligned to the ID size and holds at least the ID.
	if begin%ws != 0 || next%ws != 0 || size < ws || off+size > ringSize {
		return blkIllegal, 0, 0
	}
	return blkData, off, size
}

// readRingbuffer walks the descriptor ring from tail_id to head_id, as crash
// (printk.c dump_lockless_record_log) and makedumpfile do, applying the
// checks of the kernel's reader (desc_read_finalized_seq(), prb_read(),
// copy_data()).
func readRingbuffer(mem vmem.Reader, info *vmcoreinfo.Info) (*Log, error) {
	l, err := ringLayout(info)
	if err != nil {
		return nil, err
	}
	prbSym, _ := info.Symbol("prb")
	// prb is a pointer: &printk_rb_static, or &printk_rb_dynamic once
	// setup_log_buf() moved the log to a bigger buffer.
	pb := make([]byte, l.ws)
	if err := mem.ReadVirt(pb, prbSym); err != nil {
		return nil, fmt.Errorf("printk: reading prb at %#x: %w", prbSym, err)
	}
	rbAddr := l.word(pb, 0)
	rb := make([]byte, l.rbSize)
	if err := mem.ReadVirt(rb, rbAddr); err != nil {
		return nil, fmt.Errorf("printk: reading printk_ringbuffer at %#x: %w", rbAddr, err)
	}
	dr, tr := l.descRing, l.textRing
	countBits := binary.LittleEndian.Uint32(rb[dr+l.countBits:])
	sizeBits := binary.LittleEndian.Uint32(rb[tr+l.sizeBits:])
	if countBits > maxRingBits || sizeBits > maxRingBits || sizeBits < 3 {
		return nil, fmt.Errorf("printk: implausible ring: count_bits=%d size_bits=%d", countBits, sizeBits)
	}
	bits := 8 * l.ws
	idMask := ^uint64(0) >> (64 - bits + 2) // DESC_ID_MASK
	count := uint64(1) << countBits
	ringSize := uint64(1) << sizeBits
	descsAddr := l.word(rb, dr+l.descs)
	infosAddr := l.word(rb, dr+l.infos)
	dataAddr := l.word(rb, tr+l.data)
	headID := l.word(rb, dr+l.headID+l.counter) & idMask
	tailID := l.word(rb, dr+l.tailID+l.counter) & idMask

	out := &Log{Source: SourceRingbuffer, Size: ringSize, DescCount: count}
	if l.fail >= 0 {
		out.Fail = l.word(rb, l.fail+l.counter)
	}
	clearSeq, haveClear := readClearSeq(mem, info)
	out.ClearSeq = clearSeq

	// seq = id - first, first depending on the kernel's DESC0_ID (descid.go).
	numbering, err := l.detectNumbering(mem, descsAddr, infosAddr, headID, tailID, count, idMask)
	if err != nil {
		return nil, err
	}
	out.Numbering = numbering.name + ": " + numbering.how
	id0 := numbering.first
	seqOf := func(id uint64) uint64 { return (id - id0) & idMask }
	out.NextSeq = (seqOf(headID) + 1) & idMask

	n := (headID-tailID)&idMask + 1
	if n > count { // inconsistent: keep the newest count descriptors
		n = count
		tailID = (headID - count + 1) & idMask
	}
	budget := maxBadPages
	descs, err1 := newSpan(mem, descsAddr, count*uint64(l.descSize), &budget)
	infos, err2 := newSpan(mem, infosAddr, count*uint64(l.infoSize), &budget)
	data, err3 := newSpan(mem, dataAddr, ringSize, &budget)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}

	var gaps gapList
	recs := make([]Record, 0, min(n, 1<<14))
	textBudget := 2*ringSize + 1<<20 // valid blocks never overlap
	live := false                    // seen a descriptor that is not reusable
	oldest := out.NextSeq
	for i := uint64(0); i < n; i++ {
		id := (tailID + i) & idMask
		seq := seqOf(id)
		if descs.exhausted() {
			gaps.add(seq, seqOf(headID), "too many missing pages; rest of the log not read", 0)
			break
		}
		idx := id & (count - 1)
		d, err := descs.get(idx*uint64(l.descSize), uint64(l.descSize))
		if !live {
			live, oldest = true, seq
		}
		if err != nil {
			// Skip the other descriptors on the missing page at once.
			at := faultAddr(err, descsAddr+idx*uint64(l.descSize))
			end := (at | (pageSize - 1)) + 1
			k := uint64(1)
			if pos := descsAddr + idx*uint64(l.descSize); end > pos {
				k = (end - pos + uint64(l.descSize) - 1) / uint64(l.descSize)
			}
			k = min(k, n-i, count-idx)
			gaps.add(seq, (seq+k-1)&idMask, "descriptor not in dump", at)
			i += k - 1
			continue
		}
		sv := l.word(d, l.stateVar+l.counter)
		switch {
		case sv&idMask != id: // desc_miss
			gaps.add(seq, seq, "descriptor overwritten (id mismatch)", descsAddr+idx*uint64(l.descSize))
			continue
		case sv>>(bits-2) == descReserved:
			gaps.add(seq, seq, "descriptor reserved: record being written", descsAddr+idx*uint64(l.descSize))
			continue
		case sv>>(bits-2) == descReusable:
			if len(recs) == 0 && len(gaps) == 0 { // lost to wrapping
				live, oldest = false, out.NextSeq
				continue
			}
			gaps.add(seq, seq, "descriptor reusable: text recycled", descsAddr+idx*uint64(l.descSize))
			continue
		}
		// committed or finalized. The kernel's reader waits for
		// finalized; crash and makedumpfile also print committed ones, which
		// in a dump is the newest record (finalized when the next one is
		// reserved, desc_make_final()) or one whose writer was stopped
		// between prb_commit() and finalizing.
		inf, err := infos.get(idx*uint64(l.infoSize), uint64(l.infoSize))
		if err != nil {
			gaps.add(seq, seq, "printk_info not in dump", faultAddr(err, infosAddr+idx*uint64(l.infoSize)))
			continue
		}
		if s := binary.LittleEndian.Uint64(inf[l.seq:]); s != seq {
			gaps.add(seq, seq, fmt.Sprintf("printk_info.seq is %d", s), infosAddr+idx*uint64(l.infoSize))
			continue
		}
		rec := l.record(seq, inf)
		begin := l.word(d, l.textBlk+l.lposBegin)
		next := l.word(d, l.textBlk+l.lposNext)
		kind, off, size := textBlock(begin, next, uint(sizeBits), l.ws)
		switch kind {
		case blkEmpty:
			recs = append(recs, rec)
			continue
		case blkFailed:
			gaps.add(seq, seq, "no text stored (data-less record)", 0)
			continue
		case blkIllegal:
			gaps.add(seq, seq, fmt.Sprintf("bad text block lpos %#x..%#x", begin, next), descsAddr+idx*uint64(l.descSize))
			continue
		}
		blk, err := data.get(off, size)
		if err != nil {
			gaps.add(seq, seq, "text not in dump", faultAddr(err, dataAddr+off))
			continue
		}
		if bid := l.word(blk, 0); bid != id {
			gaps.add(seq, seq, "text block belongs to another record", dataAddr+off)
			continue
		}
		// copy_data(): the block may be longer than text_len (alignment
		// padding). When it is shorter the kernel drops the text; like
		// crash, keep what is there.
		tl := uint64(binary.LittleEndian.Uint16(inf[l.textLen:]))
		if tl > size-l.ws {
			tl = size - l.ws
		}
		if tl > textBudget {
			gaps.add(seq, seqOf(headID), "text larger than the ring; rest of the log not read", 0)
			break
		}
		textBudget -= tl
		rec.Text = string(blk[l.ws : l.ws+tl])
		recs = append(recs, rec)
	}
	out.Records = recs
	out.Gaps = gaps
	out.FirstSeq = out.NextSeq
	if len(recs) > 0 {
		out.FirstSeq = recs[0].Seq
	}
	if !haveClear || clearSeq < oldest {
		out.Dropped = oldest - min(clearSeq, oldest)
	}
	return out, nil
}

// decodeHeader decodes the fields struct printk_info (ringbuffer) and
// struct printk_log (legacy log_buf) share: u64 ts_nsec, u8 facility,
// u8 flags:5 level:3 and, when present (callerID >= 0), u32 caller_id.
func decodeHeader(seq uint64, h []byte, ts, facility, flags, callerID int64) Record {
	b := h[flags]
	r := Record{
		Seq:         seq,
		TimestampNS: binary.LittleEndian.Uint64(h[ts:]),
		Facility:    int(h[facility]),
		Flags:       b & 0x1f,
		Level:       int(b >> 5),
	}
	r.Cont = r.Flags&LogCont != 0
	if callerID >= 0 {
		r.CallerID = binary.LittleEndian.Uint32(h[callerID:])
		r.Caller = callerString(r.CallerID)
	}
	return r
}

// record decodes a printk_info (all but the text).
func (l *prbLayout) record(seq uint64, inf []byte) Record {
	r := decodeHeader(seq, inf, l.ts, l.facility, l.flags, l.callerID)
	if l.devInfo >= 0 {
		r.Subsystem = cString(inf[l.devInfo+l.subsys : l.devInfo+l.subsys+l.subsysLen])
		r.Device = cString(inf[l.devInfo+l.device : l.devInfo+l.device+l.deviceLen])
	}
	return r
}

// readClearSeq reads clear_seq: a latched_seq on 6.x (latched_seq_read_nolock():
// val[latch.sequence & 1]), a plain u64 on 5.10 (no latched_seq lines) and on
// legacy kernels.
func readClearSeq(mem vmem.Reader, info *vmcoreinfo.Info) (uint64, bool) {
	addr, err := info.Symbol("clear_seq")
	if err != nil {
		return 0, false
	}
	if off, err := info.Offset("latched_seq.val"); err == nil && off >= 0 && off < maxStructSize {
		seqc, err := vmem.ReadU32(mem, addr)
		if err != nil {
			return 0, false
		}
		v, err := vmem.ReadU64(mem, addr+uint64(off)+8*uint64(seqc&1))
		return v, err == nil
	}
	v, err := vmem.ReadU64(mem, addr)
	return v, err == nil
}
