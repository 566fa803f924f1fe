package analysis

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/target"
)

const (
	// persistentRAMSig is PERSISTENT_RAM_SIG, "DBGC" (fs/pstore/ram_core.c).
	persistentRAMSig = 0x43474244
	// ramoopsHeader starts each dmesg record: RAMOOPS_KERNMSG_HDR
	// "====" "%lld.%06lu-%c\n" (fs/pstore/ram.c ramoops_write_kmsg_hdr()).
	ramoopsHeader  = "===="
	maxRamoopsZone = 1 << 20
	maxZones       = 256
	maxRecordText  = 1 << 20
	// ramBufferHeader is sizeof(struct persistent_ram_buffer) before data[].
	ramBufferHeader = 12
)

// readPstore reads the registered pstore backend (psinfo, fs/pstore/platform.c)
// and, for ramoops, decodes the dmesg records its RAM zones hold.
func readPstore(t *target.Target, r *Report) {
	k := t.Kernel
	pp, err := k.Global("psinfo", "struct pstore_info *")
	if err != nil {
		r.fail(finding.About(finding.AreaPstore), err)
		return
	}
	info, err := pp.Deref()
	if errors.Is(err, kernel.ErrNull) {
		return // no backend registered, the common case
	}
	if err != nil {
		r.Problems.Add(finding.New(kindOf(err), finding.About(finding.AreaPstore), fmt.Errorf("psinfo: %w", err)))
		return
	}
	ps := &Pstore{Records: []PstoreRecord{}}
	if n, err := info.Member("name"); err == nil {
		if p, err := n.Pointer(); err == nil && p != 0 {
			if s, err := n.CString(64); err == nil {
				ps.Backend = &s
			}
		}
	}
	if v, err := memberUint(info, "flags"); err == nil {
		ps.Flags = &v
	}
	if v, err := memberUint(info, "bufsize"); err == nil {
		ps.BufSize = &v
	}
	r.Pstore = ps
	if str(ps.Backend) == "ramoops" {
		if err := readRamoops(t, ps); err != nil {
			r.Problems.Add(finding.New(kindOf(err), finding.About(finding.AreaPstore, "ramoops"), fmt.Errorf("records: %w", err)))
		}
	}
}

// readRamoops lays out the zones the way ramoops_probe() does: dump zones
// of record_size first, then console, ftrace and pmsg zones.
func readRamoops(t *target.Target, ps *Pstore) error {
	cxt, err := t.Kernel.Global("oops_cxt", "struct ramoops_context")
	if err != nil {
		return err
	}
	get := func(name string) (uint64, error) { return memberUint(cxt, name) }
	base, err := get("phys_addr")
	if err != nil {
		return err
	}
	size, err := get("size")
	if err != nil {
		return err
	}
	recSize, err := get("record_size")
	if err != nil {
		return err
	}
	consoleSize, _ := get("console_size")
	ftraceSize, _ := get("ftrace_size")
	pmsgSize, _ := get("pmsg_size")
	if recSize < ramBufferHeader || recSize > maxRamoopsZone || size > 1<<32 {
		return fmt.Errorf("implausible ramoops layout: size %#x record_size %#x", size, recSize)
	}
	dumpArea := size - min(size, consoleSize+ftraceSize+pmsgSize)
	zones := min(dumpArea/recSize, maxZones)
	for i := uint64(0); i < zones; i++ {
		addr := base + i*recSize
		rec, ok := readRamoopsZone(t, addr, recSize)
		if !ok {
			continue
		}
		rec.Zone, rec.Kind = int(i), "dmesg"
		ps.Records = append(ps.Records, rec)
	}
	if consoleSize >= ramBufferHeader && consoleSize <= maxRamoopsZone {
		if rec, ok := readRamoopsZone(t, base+dumpArea, consoleSize); ok {
			rec.Zone, rec.Kind = int(zones), "console"
			ps.Records = append(ps.Records, rec)
		}
	}
	return nil
}

// readRamoopsZone decodes struct persistent_ram_buffer {u32 sig; atomic_t
// start; atomic_t size; u8 data[]} at a physical address.
func readRamoopsZone(t *target.Target, addr, zoneSize uint64) (PstoreRecord, bool) {
	if zoneSize < ramBufferHeader {
		return PstoreRecord{}, false
	}
	buf := make([]byte, zoneSize)
	if err := t.Dump.ReadPhys(buf, addr); err != nil {
		return PstoreRecord{}, false
	}
	return parseRamoopsZone(addr, buf)
}

// parseRamoopsZone decodes one zone's bytes; a zone too small for the
// header, without the signature or with a bad size holds no record.
func parseRamoopsZone(addr uint64, buf []byte) (PstoreRecord, bool) {
	if len(buf) < ramBufferHeader {
		return PstoreRecord{}, false
	}
	if binary.LittleEndian.Uint32(buf) != persistentRAMSig {
		return PstoreRecord{}, false
	}
	used := uint64(binary.LittleEndian.Uint32(buf[8:]))
	data := buf[12:]
	if used == 0 || used > uint64(len(data)) {
		return PstoreRecord{}, false
	}
	data = data[:used]
	rec := PstoreRecord{Address: hex(addr)}
	if !bytes.HasPrefix(data, []byte(ramoopsHeader)) {
		rec.Text = string(data)
		rec.Title = firstLine(rec.Text)
		return rec, true
	}
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		return PstoreRecord{}, false
	}
	rec.Header = string(data[:nl])
	payload := data[nl+1:]
	if strings.HasSuffix(rec.Header, "-C") {
		rec.Compressed = true
		// pstore compresses with the crypto API's "deflate": raw deflate.
		out, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(payload)), maxRecordText))
		if err != nil && len(out) == 0 {
			rec.Title = fmt.Sprintf("(compressed record unreadable: %v)", err)
			return rec, true
		}
		payload = out
	}
	rec.Text = string(payload)
	rec.Title = firstLine(rec.Text)
	return rec, true
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
