package printk

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// This file is a small printk_ringbuffer writer following
// kernel/printk/printk_ringbuffer.c (prb_reserve(), desc_reserve(),
// desc_push_tail(), data_alloc(), data_push_tail(), get_next_lpos()) with the
// 6.1 / 5.10 x86_64 struct layouts, and the 7.3 one (newTestRing7), so tests
// can build rings in a vmem.Fake.

const (
	tIDMask   = 1<<62 - 1
	tDescSize = 24
)

// Addresses where the synthetic ring lives.
const (
	tPrbSym   = 0xffffffff82c643e0 // SYMBOL(prb): the pointer
	tRB       = 0xffffffff82c64400 // printk_rb_static
	tClearSeq = 0xffffffff841aad20
	tDescs    = 0xffffffff83000000
	tInfos    = 0xffffffff83400000
	tData     = 0xffffffff84000000
)

type tRec struct {
	text     string
	ts       uint64
	level    int
	facility int
	flags    uint8
	caller   uint32
	subsys   string
	device   string
	state    uint64 // descFinalized unless set (use tState*)
	lpos     uint64 // noLpos / failedLpos for data-less records
	textLen  int    // override text_len when > 0
	setState bool
	noNL     bool // no LOG_NEWLINE (a line continued later)
	dataless bool
}

type tBlock struct{ id, begin, next uint64 }

type testRing struct {
	countBits, sizeBits uint
	descs, infos, data  []byte
	headID, tailID      uint64
	headLpos, tailLpos  uint64
	blocks              []tBlock
	v510                bool
	// v7 is Debian 7.3.4's ring: DESC0_ID from an unsigned long
	// _DESCS_COUNT, is_blk_wrapped() on next - 1, and a 112-byte
	// printk_info (CONFIG_PRINTK_EXECUTION_CTX: caller_id2 and comm before
	// dev_info at 44).
	v7                bool
	infoSize, devInfo int
	clearSeq          uint64
	wrapped           []uint64 // seqs whose block wrapped
	fail              uint64
}

func newTestRing(countBits, sizeBits uint) *testRing { return newRing(countBits, sizeBits, false) }

// newTestRing7 is a ring as Debian's 7.3.4 writes it.
func newTestRing7(countBits, sizeBits uint) *testRing { return newRing(countBits, sizeBits, true) }

func newRing(countBits, sizeBits uint, v7 bool) *testRing {
	count := uint64(1) << countBits
	size := uint64(1) << sizeBits
	infoSize, devInfo := 88, 24
	if v7 {
		infoSize, devInfo = 112, 44
	}
	r := &testRing{countBits: countBits, sizeBits: sizeBits, v7: v7, infoSize: infoSize, devInfo: devInfo,
		descs: make([]byte, count*tDescSize), infos: make([]byte, count*uint64(infoSize)), data: make([]byte, size)}
	// _DEFINE_PRINTKRB(): the last descriptor is the initial head and tail,
	// reusable and data-less; infos[0].seq = -count so that it becomes 0.
	desc0 := uint64(-uint32(count+1)) & tIDMask // DESC0_ID(): 32-bit negation (1U << ct_bits)
	if v7 {
		desc0 = -(count + 1) & tIDMask // 7.x: (1UL << ct_bits)
	}
	r.headID, r.tailID = desc0, desc0
	r.setSV(count-1, desc0, descReusable)
	r.setLpos(count-1, failedLpos, failedLpos)
	binary.LittleEndian.PutUint64(r.infos[0:], -count)
	r.headLpos, r.tailLpos = -size, -size // BLK0_LPOS()
	return r
}

func (r *testRing) count() uint64 { return 1 << r.countBits }
func (r *testRing) size() uint64  { return 1 << r.sizeBits }

func (r *testRing) setSV(idx, id, state uint64) {
	binary.LittleEndian.PutUint64(r.descs[idx*tDescSize:], state<<62|id)
}

func (r *testRing) sv(idx uint64) uint64 { return binary.LittleEndian.Uint64(r.descs[idx*tDescSize:]) }

func (r *testRing) setLpos(idx, begin, next uint64) {
	binary.LittleEndian.PutUint64(r.descs[idx*tDescSize+8:], begin)
	binary.LittleEndian.PutUint64(r.descs[idx*tDescSize+16:], next)
}

func (r *testRing) makeReusable(id uint64) {
	idx := id & (r.count() - 1)
	if sv := r.sv(idx); sv&tIDMask == id {
		r.setSV(idx, id, descReusable)
	}
}

// getNextLpos is get_next_lpos().
func (r *testRing) getNextLpos(begin, size uint64) uint64 {
	next := begin + size
	if !r.isBlkWrapped(begin, next) {
		return next
	}
	return next&^(r.size()-1) + size
}

// isBlkWrapped is is_blk_wrapped() of 7.x (DATA_WRAPS of next - 1: a block
// ending at the end of the ring stays there), the inline DATA_WRAPS(next)
// comparison before.
func (r *testRing) isBlkWrapped(begin, next uint64) bool {
	if r.v7 {
		next--
	}
	return begin>>r.sizeBits != next>>r.sizeBits
}

// add reserves, fills and commits one record, returning its seq.
func (r *testRing) add(rc tRec) uint64 {
	count := r.count()
	id := (r.headID + 1) & tIDMask
	idx := id & (count - 1)
	// desc_reserve(): the ring is full when the previous wrap of the new id
	// is the tail; desc_push_tail() retires it and its data.
	if (id-count)&tIDMask == r.tailID {
		r.makeReusable(r.tailID)
		for len(r.blocks) > 0 && r.blocks[0].id == r.tailID {
			r.tailLpos = r.blocks[0].next
			r.blocks = r.blocks[1:]
		}
		r.tailID = (r.tailID + 1) & tIDMask
	}
	r.headID = id
	r.setSV(idx, id, descReserved)
	// prb_reserve(): seq bootstraps from the index, then advances by count.
	is := uint64(r.infoSize)
	info := r.infos[idx*is : (idx+1)*is]
	seq := binary.LittleEndian.Uint64(info)
	if seq == 0 && idx != 0 {
		seq = idx
	} else {
		seq += count
	}
	clear(info)
	binary.LittleEndian.PutUint64(info, seq)

	if rc.dataless {
		r.setLpos(idx, rc.lpos, rc.lpos)
	} else {
		size := (uint64(len(rc.text)) + 8 + 7) &^ 7 // to_blk_size()
		begin := r.headLpos
		next := r.getNextLpos(begin, size)
		// data_push_tail(): retire the oldest blocks until the new one fits.
		for next-r.tailLpos > r.size() {
			b := r.blocks[0]
			r.makeReusable(b.id)
			r.tailLpos = b.next
			r.blocks = r.blocks[1:]
		}
		at := begin & (r.size() - 1)
		binary.LittleEndian.PutUint64(r.data[at:], id)
		if r.isBlkWrapped(begin, next) {
			// Wrapping block: the whole block goes to index 0.
			at = 0
			binary.LittleEndian.PutUint64(r.data[0:], id)
			r.wrapped = append(r.wrapped, seq)
		}
		copy(r.data[at+8:], rc.text)
		r.headLpos = next
		r.blocks = append(r.blocks, tBlock{id, begin, next})
		r.setLpos(idx, begin, next)
	}
	binary.LittleEndian.PutUint64(info[8:], rc.ts)
	tl := len(rc.text)
	if rc.textLen > 0 {
		tl = rc.textLen
	}
	binary.LittleEndian.PutUint16(info[16:], uint16(tl))
	info[18] = byte(rc.facility)
	info[19] = rc.flags&0x1f | byte(rc.level)<<5
	binary.LittleEndian.PutUint32(info[20:], rc.caller)
	if r.v7 {
		// printk_info.caller_id2 (the complement: a CPU for a task id, or
		// the task for a CPU) and comm.
		binary.LittleEndian.PutUint32(info[24:], rc.caller^0x80000000)
		copy(info[28:28+15], "sh")
	}
	copy(info[r.devInfo:r.devInfo+15], rc.subsys)
	copy(info[r.devInfo+16:r.devInfo+16+47], rc.device)
	state := uint64(descFinalized)
	if rc.setState {
		state = rc.state
	}
	r.setSV(idx, id, state)
	return seq
}

// rbStruct is struct printk_ringbuffer (6.1: 88 bytes with
// desc_ring.last_finalized_id; 5.10: 80 bytes).
func (r *testRing) rbStruct() []byte {
	dr, tr, fail, size := 0, 48, 80, 88
	if r.v510 {
		tr, fail, size = 40, 72, 80
	}
	b := make([]byte, size)
	binary.LittleEndian.PutUint32(b[dr:], uint32(r.countBits))
	binary.LittleEndian.PutUint64(b[dr+8:], tDescs)
	binary.LittleEndian.PutUint64(b[dr+16:], tInfos)
	binary.LittleEndian.PutUint64(b[dr+24:], r.headID)
	binary.LittleEndian.PutUint64(b[dr+32:], r.tailID)
	binary.LittleEndian.PutUint32(b[tr:], uint32(r.sizeBits))
	binary.LittleEndian.PutUint64(b[tr+8:], tData)
	binary.LittleEndian.PutUint64(b[tr+16:], r.headLpos)
	binary.LittleEndian.PutUint64(b[tr+24:], r.tailLpos)
	binary.LittleEndian.PutUint64(b[fail:], r.fail)
	return b
}

// vmcoreinfo is the printk part of a 6.1 (or 5.10) VMCOREINFO, as
// log_buf_vmcoreinfo_setup() writes it; the values match the fixtures'.
func (r *testRing) vmcoreinfo() string {
	rel, dr, tr, fail, rbSize, ringSize := "6.1.0-56-amd64", 0, 48, 80, 88, 48
	if r.v510 {
		rel, tr, fail, rbSize, ringSize = "5.10.0-32-amd64", 40, 72, 80, 40
	}
	if r.v7 {
		rel = "7.3.4+deb13-amd64"
	}
	s := fmt.Sprintf(`OSRELEASE=%s
PAGESIZE=4096
SYMBOL(prb)=%x
SYMBOL(printk_rb_static)=%x
SYMBOL(clear_seq)=%x
SIZE(printk_ringbuffer)=%d
OFFSET(printk_ringbuffer.desc_ring)=%d
OFFSET(printk_ringbuffer.text_data_ring)=%d
OFFSET(printk_ringbuffer.fail)=%d
SIZE(prb_desc_ring)=%d
OFFSET(prb_desc_ring.count_bits)=0
OFFSET(prb_desc_ring.descs)=8
OFFSET(prb_desc_ring.infos)=16
OFFSET(prb_desc_ring.head_id)=24
OFFSET(prb_desc_ring.tail_id)=32
SIZE(prb_desc)=24
OFFSET(prb_desc.state_var)=0
OFFSET(prb_desc.text_blk_lpos)=8
SIZE(prb_data_blk_lpos)=16
OFFSET(prb_data_blk_lpos.begin)=0
OFFSET(prb_data_blk_lpos.next)=8
SIZE(printk_info)=%d
OFFSET(printk_info.seq)=0
OFFSET(printk_info.ts_nsec)=8
OFFSET(printk_info.text_len)=16
OFFSET(printk_info.caller_id)=20
OFFSET(printk_info.dev_info)=%d
SIZE(dev_printk_info)=64
OFFSET(dev_printk_info.subsystem)=0
LENGTH(printk_info_subsystem)=16
OFFSET(dev_printk_info.device)=16
LENGTH(printk_info_device)=48
SIZE(prb_data_ring)=32
OFFSET(prb_data_ring.size_bits)=0
OFFSET(prb_data_ring.data)=8
OFFSET(prb_data_ring.head_lpos)=16
OFFSET(prb_data_ring.tail_lpos)=24
SIZE(atomic_long_t)=8
OFFSET(atomic_long_t.counter)=0
`, rel, uint64(tPrbSym), uint64(tRB), uint64(tClearSeq), rbSize, dr, tr, fail, ringSize, r.infoSize, r.devInfo)
	if !r.v510 {
		s += "SIZE(latched_seq)=24\nOFFSET(latched_seq.val)=8\n"
	}
	return s
}

func (r *testRing) info() *vmcoreinfo.Info {
	info, err := vmcoreinfo.Parse([]byte(r.vmcoreinfo()))
	if err != nil {
		panic(err)
	}
	return info
}

// clearSeqBytes is clear_seq: a latched_seq (sequence 1 selects val[1]) on
// 6.1, a plain u64 on 5.10.
func (r *testRing) clearSeqBytes() []byte {
	if r.v510 {
		return binary.LittleEndian.AppendUint64(nil, r.clearSeq)
	}
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b, 1)
	binary.LittleEndian.PutUint64(b[8:], 999999) // stale val[0]
	binary.LittleEndian.PutUint64(b[16:], r.clearSeq)
	return b
}

// fake maps the ring; skipData lists data ring pages (by index) left out,
// skipDesc likewise for the descriptor array.
func (r *testRing) fake(skipData, skipDesc []int) *vmem.Fake {
	f := &vmem.Fake{}
	f.Map(tPrbSym, binary.LittleEndian.AppendUint64(nil, tRB))
	f.Map(tRB, r.rbStruct())
	f.Map(tClearSeq, r.clearSeqBytes())
	mapPages(f, tDescs, r.descs, skipDesc)
	f.Map(tInfos, r.infos)
	mapPages(f, tData, r.data, skipData)
	return f
}

func mapPages(f *vmem.Fake, base uint64, b []byte, skip []int) {
	for p := 0; p*4096 < len(b); p++ {
		if contains(skip, p) {
			continue
		}
		f.Map(base+uint64(p)*4096, b[p*4096:min(len(b), (p+1)*4096)])
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// blockPages are the data ring pages holding the block of the record with seq.
func (r *testRing) blockPages(seq uint64) (int, int) {
	idx := seq & (r.count() - 1)
	begin := binary.LittleEndian.Uint64(r.descs[idx*tDescSize+8:])
	next := binary.LittleEndian.Uint64(r.descs[idx*tDescSize+16:])
	_, off, size := textBlock(begin, next, r.sizeBits, 8)
	return int(off / 4096), int((off + size - 1) / 4096)
}

// legacyBuf is a log_buf writer following log_store() of 4.x/5.x
// (kernel/printk/printk.c) with struct printk_log of CONFIG_PRINTK_CALLER
// (20 bytes, __packed __aligned(4) on x86: LOG_ALIGN 4).
type legacyBuf struct {
	buf               []byte
	firstIdx, nextIdx uint32
	firstSeq, nextSeq uint64
	hdr               int
}

const (
	tLogBufPtr  = 0xffffffff82a00000
	tLogBufLen  = 0xffffffff82a00010
	tLogFirst   = 0xffffffff82a00020
	tLogNext    = 0xffffffff82a00030
	tLogClear   = 0xffffffff82a00040
	tLogBufData = 0xffffffff85000000
)

func newLegacyBuf(size int, caller bool) *legacyBuf {
	hdr := 16
	if caller {
		hdr = 20
	}
	return &legacyBuf{buf: make([]byte, size), hdr: hdr}
}

func (lb *legacyBuf) msgUsed(idx uint32) uint32 {
	return uint32(binary.LittleEndian.Uint16(lb.buf[idx+8:]))
}

// logNext is log_next().
func (lb *legacyBuf) logNext(idx uint32) uint32 {
	if lb.msgUsed(idx) == 0 {
		return lb.msgUsed(0)
	}
	return idx + lb.msgUsed(idx)
}

// hasSpace is logbuf_has_space(): room for the record and a wrap header.
func (lb *legacyBuf) hasSpace(size uint32, empty bool) bool {
	var free uint32
	if lb.nextIdx > lb.firstIdx || empty {
		free = max(uint32(len(lb.buf))-lb.nextIdx, lb.firstIdx)
	} else {
		free = lb.firstIdx - lb.nextIdx
	}
	return free >= size+uint32(lb.hdr)
}

// add is log_store() with log_make_free_space().
func (lb *legacyBuf) add(text, dict string, ts uint64, level int, flags uint8, caller uint32) {
	size := uint32(lb.hdr + len(text) + len(dict))
	size = (size + 3) &^ 3 // LOG_ALIGN 4
	for lb.firstSeq < lb.nextSeq && !lb.hasSpace(size, false) {
		lb.firstIdx = lb.logNext(lb.firstIdx)
		lb.firstSeq++
	}
	if int(lb.nextIdx)+int(size)+lb.hdr > len(lb.buf) {
		// No room at the end: a zero header marks the wrap.
		clear(lb.buf[lb.nextIdx : int(lb.nextIdx)+lb.hdr])
		lb.nextIdx = 0
	}
	m := lb.buf[lb.nextIdx:]
	binary.LittleEndian.PutUint64(m, ts)
	binary.LittleEndian.PutUint16(m[8:], uint16(size))
	binary.LittleEndian.PutUint16(m[10:], uint16(len(text)))
	binary.LittleEndian.PutUint16(m[12:], uint16(len(dict)))
	m[14] = 0
	m[15] = flags&0x1f | byte(level)<<5
	if lb.hdr == 20 {
		binary.LittleEndian.PutUint32(m[16:], caller)
	}
	copy(m[lb.hdr:], text)
	copy(m[lb.hdr+len(text):], dict)
	lb.nextIdx += size
	lb.nextSeq++
}

func (lb *legacyBuf) vmcoreinfo() string {
	return fmt.Sprintf(`OSRELEASE=4.19.0-test
SYMBOL(log_buf)=%x
SYMBOL(log_buf_len)=%x
SYMBOL(log_first_idx)=%x
SYMBOL(clear_idx)=%x
SYMBOL(log_next_idx)=%x
SIZE(printk_log)=%d
OFFSET(printk_log.ts_nsec)=0
OFFSET(printk_log.len)=8
OFFSET(printk_log.text_len)=10
OFFSET(printk_log.dict_len)=12
`, uint64(tLogBufPtr), uint64(tLogBufLen), uint64(tLogFirst), uint64(tLogClear), uint64(tLogNext), lb.hdr)
}

func (lb *legacyBuf) fake() (*vmem.Fake, *vmcoreinfo.Info) {
	f := &vmem.Fake{}
	f.Map(tLogBufPtr, binary.LittleEndian.AppendUint64(nil, tLogBufData))
	f.Map(tLogBufLen, binary.LittleEndian.AppendUint32(nil, uint32(len(lb.buf))))
	f.Map(tLogFirst, binary.LittleEndian.AppendUint32(nil, lb.firstIdx))
	f.Map(tLogNext, binary.LittleEndian.AppendUint32(nil, lb.nextIdx))
	f.Map(tLogClear, binary.LittleEndian.AppendUint32(nil, 0))
	f.Map(tLogBufData, lb.buf)
	info, err := vmcoreinfo.Parse([]byte(lb.vmcoreinfo()))
	if err != nil {
		panic(err)
	}
	return f, info
}

func filler(i, n int) string {
	s := fmt.Sprintf("filler record %d ", i)
	return s + strings.Repeat("x", max(0, n-len(s)))
}
