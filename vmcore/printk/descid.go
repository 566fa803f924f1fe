package printk

import (
	"encoding/binary"
	"fmt"

	"github.com/panicscope/panicscope/vmcore/vmem"
)

// LayoutError is a printk ring whose structure this reader does not know
// (VMCOREINFO offsets that contradict each other, or descriptor ids that
// follow no known numbering): reading it anyway would give garbage records.
// Detail names what did not match.
type LayoutError struct{ Detail string }

func (e *LayoutError) Error() string { return "printk: unsupported printk ring layout: " + e.Detail }

func layoutErrorf(format string, a ...any) error {
	return &LayoutError{Detail: fmt.Sprintf(format, a...)}
}

// idNumbering is how a ring numbers its descriptors. Every id reserved gets
// the next sequence number (prb_reserve() bootstraps printk_info.seq from the
// index and adds the descriptor count on each reuse), so seq = id - first,
// where first = DESC0_ID(count_bits) + 1 is the first id ever reserved.
// DESC0_ID(ct_bits) is DESC_ID(-(_DESCS_COUNT(ct_bits) + 1)), and the type
// of _DESCS_COUNT decides where the negation happens
// (kernel/printk/printk_ringbuffer.h):
//   - 5.10 … 6.x: (1U << (ct_bits)), an unsigned int: first = 2^32 - count;
//   - 7.x (Debian 7.3.4): (1UL << (ct_bits)), an unsigned long: first =
//     2^62 - count, DESC_ID() keeping the low BITS_PER_LONG-2 bits.
//
// Both are multiples of count, so the index of an id (DESC_INDEX()) is the
// same either way: only the id → seq mapping differs.
type idNumbering struct {
	first uint64 // DESC0_ID + 1
	name  string
	how   string // how the numbering was recognized
}

func idNumberings(count, idMask uint64) []idNumbering {
	n32 := idNumbering{first: (1<<32 - count) & idMask,
		name: "descriptor ids from a 32-bit _DESCS_COUNT (5.10–6.x)"}
	nLong := idNumbering{first: -count & idMask,
		name: "descriptor ids from an unsigned long _DESCS_COUNT (7.x)"}
	if n32.first == nLong.first { // 32-bit kernel: one numbering
		return []idNumbering{n32}
	}
	return []idNumbering{n32, nLong}
}

// probeDescs bounds the descriptors read (newest first) to recognize the
// numbering: one committed record is enough; more only cover a few
// descriptors caught mid-write or on a missing page.
const probeDescs = 16

// detectNumbering recognizes the ring's id numbering: a ring nothing was
// ever written to has head_id = tail_id = DESC0_ID; otherwise the newest
// descriptors that hold a committed record carry their seq in printk_info,
// which gives first = id - seq. A ring whose records fit no numbering is a
// LayoutError. When no descriptor can be read, the id range decides (the
// 32-bit numbering starts at 2^32 - count, the 7.x one at 2^62 - count and
// wraps to 0 after count records) and how says so.
func (l *prbLayout) detectNumbering(mem vmem.Reader, descsAddr, infosAddr, headID, tailID, count, idMask uint64) (idNumbering, error) {
	cands := idNumberings(count, idMask)
	for _, c := range cands {
		if headID == tailID && headID == (c.first-1)&idMask {
			c.how = "head_id = tail_id = DESC0_ID: nothing written yet"
			return c, nil
		}
	}
	bits := 8 * l.ws
	d := make([]byte, l.descSize)
	inf := make([]byte, 8)
	var seen []string
	for i := uint64(0); i < min(count, probeDescs, (headID-tailID)&idMask+1); i++ {
		id := (headID - i) & idMask
		idx := id & (count - 1)
		if err := mem.ReadVirt(d, descsAddr+idx*uint64(l.descSize)); err != nil {
			continue
		}
		sv := l.word(d, l.stateVar+l.counter)
		if st := sv >> (bits - 2); sv&idMask != id || (st != descCommitted && st != descFinalized) {
			continue
		}
		if err := mem.ReadVirt(inf, infosAddr+idx*uint64(l.infoSize)+uint64(l.seq)); err != nil {
			continue
		}
		seq := binary.LittleEndian.Uint64(inf)
		first := (id - seq) & idMask
		for _, c := range cands {
			if first == c.first {
				c.how = fmt.Sprintf("descriptor %#x holds seq %d", id, seq)
				return c, nil
			}
		}
		seen = append(seen, fmt.Sprintf("id %#x has seq %d", id, seq))
	}
	if len(seen) > 0 {
		want := ""
		for _, c := range cands {
			want += fmt.Sprintf("; %s: first id %#x", c.name, c.first)
		}
		return idNumbering{}, layoutErrorf("descriptor ids and printk_info.seq follow no known numbering (%s%s)",
			seen[0], want)
	}
	c := cands[0]
	if len(cands) > 1 && (headID < cands[0].first-1 || headID >= cands[1].first-1) {
		c = cands[1]
	}
	c.how = fmt.Sprintf("assumed from head_id %#x (no committed descriptor readable)", headID)
	return c, nil
}
