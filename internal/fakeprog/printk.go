package fakeprog

import (
	"encoding/binary"
	"fmt"
)

// LogRecord is one printk record.
type LogRecord struct {
	Text  string
	TS    uint64 // ts_nsec
	Level int
}

// Ring is the printk ring buffer under construction.
type Ring struct {
	recs       []LogRecord
	vmcoreinfo string
}

// Printk appends records to the kernel log (the 6.1 printk_ringbuffer,
// kernel/printk/printk_ringbuffer.c). Timestamps left 0 are filled in
// increasing order.
func (k *Kernel) Printk(recs ...LogRecord) {
	if k.log == nil {
		k.log = &Ring{}
	}
	for _, r := range recs {
		if r.TS == 0 {
			r.TS = uint64(len(k.log.recs)+1) * 1000_000
		}
		k.log.recs = append(k.log.recs, r)
	}
}

// Layout of the 6.1 x86_64 structs (as log_buf_vmcoreinfo_setup() reports).
const (
	descSize   = 24 // struct prb_desc
	infoSize   = 88 // struct printk_info
	idMask     = 1<<62 - 1
	stFinal    = 2 // desc_finalized
	stReusable = 3 // desc_reusable
	failedLpos = 1
	lpNewline  = 2 // LOG_NEWLINE
)

// writeLog lays the records out as prb_reserve() / prb_final_commit()
// would, in a ring large enough that nothing wrapped.
func (k *Kernel) writeLog() {
	recs := k.log.recs
	countBits := uint(4)
	for 1<<countBits < len(recs)+2 {
		countBits++
	}
	count := uint64(1) << countBits
	var dataLen uint64
	for _, r := range recs {
		dataLen += (uint64(len(r.Text)) + 8 + 7) &^ 7
	}
	sizeBits := uint(12)
	for 1<<sizeBits < dataLen+64 {
		sizeBits++
	}
	size := uint64(1) << sizeBits
	descs := make([]byte, count*descSize)
	infos := make([]byte, count*infoSize)
	data := make([]byte, size)
	le := binary.LittleEndian
	setDesc := func(idx, id, state, begin, next uint64) {
		le.PutUint64(descs[idx*descSize:], state<<62|id)
		le.PutUint64(descs[idx*descSize+8:], begin)
		le.PutUint64(descs[idx*descSize+16:], next)
	}
	// _DEFINE_PRINTKRB(): the last descriptor is the initial head and tail.
	desc0 := uint64(-uint32(count+1)) & idMask
	headID, tailID := desc0, desc0
	setDesc(count-1, desc0, stReusable, failedLpos, failedLpos)
	le.PutUint64(infos[0:], -count)
	headLpos := -size // BLK0_LPOS()
	tailLpos := headLpos
	for _, r := range recs {
		id := (headID + 1) & idMask
		idx := id & (count - 1)
		headID = id
		info := infos[idx*infoSize : (idx+1)*infoSize]
		seq := le.Uint64(info)
		if seq == 0 && idx != 0 {
			seq = idx
		} else {
			seq += count
		}
		clear(info)
		le.PutUint64(info, seq)
		blk := (uint64(len(r.Text)) + 8 + 7) &^ 7
		begin := headLpos
		next := begin + blk
		at := begin & (size - 1)
		le.PutUint64(data[at:], id)
		copy(data[at+8:], r.Text)
		headLpos = next
		setDesc(idx, id, stFinal, begin, next)
		le.PutUint64(info[8:], r.TS)
		le.PutUint16(info[16:], uint16(len(r.Text)))
		info[19] = lpNewline | byte(r.Level)<<5
	}
	descsAt := k.Alloc(uint64(len(descs)), PageSize)
	infosAt := k.Alloc(uint64(len(infos)), PageSize)
	dataAt := k.Alloc(size, PageSize)
	k.Write(descsAt, descs)
	k.Write(infosAt, infos)
	k.Write(dataAt, data)

	rb := k.Data("printk_rb_static", 88, 8)
	k.PutU32(rb+0, uint32(countBits))
	k.PutU64(rb+8, descsAt)
	k.PutU64(rb+16, infosAt)
	k.PutU64(rb+24, headID)
	k.PutU64(rb+32, tailID)
	k.PutU32(rb+48, uint32(sizeBits))
	k.PutU64(rb+56, dataAt)
	k.PutU64(rb+64, headLpos)
	k.PutU64(rb+72, tailLpos)
	prb := k.Data("prb", 8, 8)
	k.PutU64(prb, rb)
	// clear_seq is a latched_seq: sequence 0 selects val[0] = 0.
	clearSeq := k.Data("clear_seq", 24, 8)
	k.log.vmcoreinfo = fmt.Sprintf(`SYMBOL(prb)=%x
SYMBOL(printk_rb_static)=%x
SYMBOL(clear_seq)=%x
SIZE(printk_ringbuffer)=88
OFFSET(printk_ringbuffer.desc_ring)=0
OFFSET(printk_ringbuffer.text_data_ring)=48
OFFSET(printk_ringbuffer.fail)=80
SIZE(prb_desc_ring)=48
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
SIZE(printk_info)=88
OFFSET(printk_info.seq)=0
OFFSET(printk_info.ts_nsec)=8
OFFSET(printk_info.text_len)=16
OFFSET(printk_info.caller_id)=20
OFFSET(printk_info.dev_info)=24
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
SIZE(latched_seq)=24
OFFSET(latched_seq.val)=8
`, prb, rb, clearSeq)
}
