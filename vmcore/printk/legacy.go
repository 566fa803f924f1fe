package printk

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// maxLogBuf is LOG_BUF_LEN_MAX (kernel/printk/printk.c): 2 GiB.
const maxLogBuf = 1 << 31

// legacyLayout is struct printk_log (3.11..5.9; named "log" in 3.5..3.10):
//
//	u64 ts_nsec; u16 len; u16 text_len; u16 dict_len; u8 facility;
//	u8 flags:5; u8 level:3; u32 caller_id (CONFIG_PRINTK_CALLER, 4.20+)
//
// followed by the text, the dictionary and padding up to LOG_ALIGN; len is the
// whole record and len == 0 marks the end of the buffer (log_from_idx()).
type legacyLayout struct {
	hdr, ts, len, textLen, dictLen, facility, flags, callerID int64
}

func legacyStruct(info *vmcoreinfo.Info) (*legacyLayout, error) {
	for _, name := range []string{"printk_log", "log"} {
		k := &keys{info: info}
		hdr := k.size(name)
		l := &legacyLayout{
			hdr:     hdr,
			ts:      k.off(name + ".ts_nsec"),
			len:     k.off(name + ".len"),
			textLen: k.off(name + ".text_len"),
			dictLen: k.optOff(name + ".dict_len"),
		}
		if len(k.missing) > 0 {
			continue
		}
		if err := k.err(); err != nil {
			return nil, err
		}
		// No OFFSET lines for these: they follow text_len in the struct
		// above (dict_len u16, facility u8, then the flags/level byte).
		if l.dictLen < 0 {
			l.dictLen = l.textLen + 2
		}
		l.facility, l.flags = l.dictLen+2, l.dictLen+3
		l.callerID = -1
		if l.dictLen+8 <= hdr {
			l.callerID = l.dictLen + 4
		}
		if hdr <= 0 || hdr > 256 || l.ts < 0 || l.ts+8 > hdr || l.len < 0 || l.len+2 > hdr ||
			l.textLen < 0 || l.textLen+2 > hdr || l.flags < 0 || l.flags >= hdr {
			return nil, fmt.Errorf("printk: implausible %s layout in VMCOREINFO", name)
		}
		return l, nil
	}
	return nil, fmt.Errorf("printk: VMCOREINFO lacks SIZE/OFFSET(printk_log.*)")
}

// readLegacy walks log_buf from log_first_idx to log_next_idx the way
// log_from_idx()/log_next() and crash's dump_log() (kernel.c) do.
func readLegacy(mem vmem.Reader, info *vmcoreinfo.Info) (*Log, error) {
	l, err := legacyStruct(info)
	if err != nil {
		return nil, err
	}
	sym := func(name string) (uint64, error) {
		a, err := info.Symbol(name)
		if err != nil {
			return 0, fmt.Errorf("printk: %w", err)
		}
		return a, nil
	}
	u32 := func(name string) (uint64, error) {
		a, err := sym(name)
		if err != nil {
			return 0, err
		}
		v, err := vmem.ReadU32(mem, a)
		if err != nil {
			return 0, fmt.Errorf("printk: reading %s: %w", name, err)
		}
		return uint64(v), nil
	}
	ptrAddr, err := sym("log_buf")
	if err != nil {
		return nil, err
	}
	bufAddr, err := vmem.ReadU64(mem, ptrAddr) // static char *log_buf = __log_buf;
	if err != nil {
		return nil, fmt.Errorf("printk: reading log_buf: %w", err)
	}
	bufLen, err := u32("log_buf_len")
	if err != nil {
		return nil, err
	}
	first, err := u32("log_first_idx")
	if err != nil {
		return nil, err
	}
	next, err := u32("log_next_idx")
	if err != nil {
		return nil, err
	}
	hdr := uint64(l.hdr)
	if bufLen < hdr || bufLen > maxLogBuf || first >= bufLen || next >= bufLen {
		return nil, fmt.Errorf("printk: implausible log_buf: len %d, first %d, next %d", bufLen, first, next)
	}
	out := &Log{Source: SourceLegacy, Size: bufLen}
	// log_first_seq is no VMCOREINFO symbol; use it when someone added it,
	// else number the records from 0.
	var seq uint64
	if a, err := info.Symbol("log_first_seq"); err == nil {
		if v, err := vmem.ReadU64(mem, a); err == nil {
			seq = v
		}
	}
	clearSeq, haveClear := readClearSeq(mem, info)
	out.ClearSeq = clearSeq
	out.FirstSeq = seq
	if !haveClear || clearSeq < seq {
		out.Dropped = seq - min(clearSeq, seq)
	}

	budget := maxBadPages
	buf, err := newSpan(mem, bufAddr, bufLen, &budget)
	if err != nil {
		return nil, err
	}
	var gaps gapList
	var recs []Record
	idx := first
	walked := uint64(0)
	wrapped := false
	for idx != next {
		if idx+hdr > bufLen {
			// No room for a header: the writer wrapped here.
			if wrapped {
				gaps.add(seq, seq, fmt.Sprintf("log_buf index %d past the end", idx), bufAddr+idx)
				break
			}
			idx, wrapped = 0, true
			continue
		}
		h, err := buf.get(idx, hdr)
		if err != nil {
			// Without the header the chain is lost.
			gaps.add(seq, seq, "log_buf header not in dump; rest of the log not read", faultAddr(err, bufAddr+idx))
			break
		}
		rlen := uint64(binary.LittleEndian.Uint16(h[l.len:]))
		if rlen == 0 { // end-of-buffer marker: continue at the start
			if wrapped {
				gaps.add(seq, seq, "log_buf wraps twice; rest of the log not read", bufAddr+idx)
				break
			}
			idx, wrapped = 0, true
			continue
		}
		textLen := uint64(binary.LittleEndian.Uint16(h[l.textLen:]))
		dictLen := uint64(binary.LittleEndian.Uint16(h[l.dictLen:]))
		walked += rlen
		if rlen < hdr || idx+rlen > bufLen || hdr+textLen > rlen || walked > 2*bufLen {
			gaps.add(seq, seq, fmt.Sprintf("bad log_buf record at index %d (len %d, text_len %d)", idx, rlen, textLen), bufAddr+idx)
			break
		}
		if hdr+textLen+dictLen > rlen {
			dictLen = 0
		}
		rec := decodeHeader(seq, h, l.ts, l.facility, l.flags, l.callerID)
		body, err := buf.get(idx+hdr, textLen+dictLen)
		if err != nil {
			gaps.add(seq, seq, "text not in dump", faultAddr(err, bufAddr+idx+hdr))
		} else {
			rec.Text = string(body[:textLen])
			rec.Subsystem, rec.Device = parseDict(body[textLen:])
			recs = append(recs, rec)
		}
		seq++
		idx += rlen
		if idx >= bufLen {
			idx = 0
		}
	}
	out.Records = recs
	out.Gaps = gaps
	out.NextSeq = seq
	if len(recs) > 0 {
		out.FirstSeq = recs[0].Seq
	} else {
		out.FirstSeq = seq
	}
	return out, nil
}

// parseDict picks SUBSYSTEM= and DEVICE= from a printk dictionary
// ("KEY=value" pairs separated by NULs, create_syslog_header() in
// drivers/base/core.c).
func parseDict(d []byte) (subsystem, device string) {
	for _, kv := range bytes.Split(d, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("SUBSYSTEM=")); ok {
			subsystem = string(v)
		} else if v, ok := bytes.CutPrefix(kv, []byte("DEVICE=")); ok {
			device = string(v)
		}
	}
	return subsystem, device
}
