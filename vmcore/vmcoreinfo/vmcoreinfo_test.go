package vmcoreinfo

import (
	"errors"
	"testing"
)

const sample = "OSRELEASE=6.1.0-56-amd64\nBUILD-ID=eb4f\nPAGESIZE=4096\n" +
	"SYMBOL(prb)=ffffffffa82643e0\nOFFSET(printk_info.seq)=0\nSIZE(printk_info)=88\n" +
	"NUMBER(phys_base)=-629145600\nLENGTH(mem_section)=4096\nKERNELOFFSET=25800000\n\x00\x00"

func TestParse(t *testing.T) {
	info, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if info.OSRelease() != "6.1.0-56-amd64" || info.BuildID() != "eb4f" || info.PageSize() != 4096 {
		t.Fatalf("basic fields wrong: %q %q %d", info.OSRelease(), info.BuildID(), info.PageSize())
	}
	if v, err := info.Symbol("prb"); err != nil || v != 0xffffffffa82643e0 {
		t.Fatalf("Symbol(prb) = %#x, %v", v, err)
	}
	if v, err := info.Number("phys_base"); err != nil || v != -629145600 {
		t.Fatalf("Number(phys_base) = %d, %v", v, err)
	}
	if v, ok := info.KernelOffset(); !ok || v != 0x25800000 {
		t.Fatalf("KernelOffset = %#x, %v", v, ok)
	}
	if _, err := info.Offset("nope.member"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("missing key: want ErrNoKey, got %v", err)
	}
	if _, ok := info.CrashTime(); ok {
		t.Fatal("CrashTime present in sample without it")
	}
}

func TestParseRejectsNonVmcoreinfo(t *testing.T) {
	if _, err := Parse([]byte("hello=world\n")); err == nil {
		t.Fatal("text without OSRELEASE accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Parse(data)
		if err == nil {
			_ = info.PageSize()
			_, _ = info.Symbol("prb")
		}
	})
}
