package vmcore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/kcore"
)

// FormatLive is a running kernel read through /proc/kcore.
const FormatLive Format = "live (/proc/kcore)"

// InfoFromKcore is the VMCOREINFO source of a live system.
const InfoFromKcore = "/proc/kcore note"

// DefaultKcore is where the running kernel exposes its memory.
const DefaultKcore = "/proc/kcore"

// LiveFileError is a file live mode needs and could not read. Its message
// names the file, the errno text and what usually causes it.
type LiveFileError struct {
	Path string
	Err  error
	Hint string
}

func (e *LiveFileError) Error() string {
	msg := fmt.Sprintf("cannot read %s: %v", e.Path, errnoText(e.Err))
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

func (e *LiveFileError) Unwrap() error { return e.Err }

// errnoText strips the "open PATH: " prefix of a *fs.PathError so the
// message names the path once.
func errnoText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// LiveReadError wraps err, from reading path in live mode, in a
// *LiveFileError with a hint chosen by errno.
func LiveReadError(path string, err error) error {
	hint := ""
	switch {
	case errors.Is(err, fs.ErrNotExist):
		switch path {
		case DefaultKcore:
			hint = "this kernel has no /proc/kcore: built without CONFIG_PROC_KCORE, or /proc is not mounted"
		default:
			hint = "not provided by this kernel or not mounted"
		}
	case errors.Is(err, syscall.EPERM):
		hint = "needs CAP_SYS_RAWIO, and kernel lockdown (Secure Boot, lockdown=) forbids /proc/kcore even to root"
	case errors.Is(err, fs.ErrPermission):
		hint = "live mode needs root"
	case errors.Is(err, syscall.EISDIR):
		hint = "a directory, not a file"
	}
	return &LiveFileError{Path: path, Err: err, Hint: hint}
}

// OpenLive opens a running kernel's memory through kcorePath (normally
// /proc/kcore): virtual addresses are read straight from kcore's PT_LOADs,
// VMCOREINFO comes from its note (Linux >= 4.19). CPUs is left empty: kcore
// has no per-CPU registers of a running system (its one NT_PRSTATUS is
// zeroed); callers that know the online CPUs fill it.
func OpenLive(kcorePath string) (*Dump, error) {
	f, err := os.Open(kcorePath)
	if err != nil {
		return nil, LiveReadError(kcorePath, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, LiveReadError(kcorePath, err)
	}
	kf, err := kcore.Open(f, st.Size())
	if err != nil {
		f.Close()
		if errors.Is(err, kcore.ErrNotKcore) {
			return nil, &LiveFileError{Path: kcorePath, Err: err, Hint: "masked by a container runtime, or not a kernel core file"}
		}
		return nil, LiveReadError(kcorePath, err)
	}
	// kcore.Open accepts x86_64 and arm64 cores.
	a, err := arch.Detect(Supported, arch.Hints{ELFMachine: kf.Machine()})
	if err != nil {
		f.Close()
		return nil, err
	}
	d := &Dump{
		arch:        a,
		Path:        kcorePath,
		Format:      FormatLive,
		Compression: "none",
		DumpLevel:   -1,
		file:        f,
		mem:         kf,
		virt:        kf,
	}
	data := kf.VMCOREINFO()
	if data == nil {
		f.Close()
		return nil, &LiveFileError{Path: kcorePath, Err: kcore.ErrNoVMCOREINFO, Hint: "Linux older than 4.19"}
	}
	if err := d.setInfo(data, InfoFromKcore); err != nil {
		f.Close()
		return nil, &LiveFileError{Path: kcorePath, Err: fmt.Errorf("VMCOREINFO note: %w", err)}
	}
	// The translator is not used for reads (kcore maps virtual addresses
	// itself) but gives paging levels and phys_base; without it they stay
	// unknown.
	_ = d.setupTranslation()
	return d, nil
}

// Live reports whether d is a running system rather than a dump.
func (d *Dump) Live() bool { return d.Format == FormatLive }

// Segments of the live kcore, for diagnostics: nil for dumps.
func (d *Dump) KcoreSegments() []kcore.Segment {
	if kf, ok := d.virt.(*kcore.File); ok {
		return kf.Segments()
	}
	return nil
}
