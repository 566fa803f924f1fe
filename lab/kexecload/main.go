// Command kexecload loads a crash kernel with kexec_file_load(2), as
// `kexec -p -s KERNEL --append=CMDLINE [--initrd=INITRD]` does, for the lab's
// guest: a static Go binary needs no shared libraries in the initramfs.
// Linux x86_64 only.
//
//	kexecload KERNEL CMDLINE [INITRD]
package main

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// include/uapi/linux/kexec.h; arch/x86/entry/syscalls/syscall_64.tbl.
const (
	sysKexecFileLoad     = 320
	kexecFileOnCrash     = 0x2
	kexecFileNoInitramfs = 0x4
)

func main() {
	if len(os.Args) != 3 && len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: kexecload KERNEL CMDLINE [INITRD]")
		os.Exit(2)
	}
	initrdFd, flags := ^uintptr(0), uintptr(kexecFileOnCrash|kexecFileNoInitramfs)
	if len(os.Args) == 4 {
		initrd, err := os.Open(os.Args[3])
		if err != nil {
			fmt.Fprintln(os.Stderr, "kexecload:", err)
			os.Exit(1)
		}
		defer initrd.Close()
		initrdFd, flags = initrd.Fd(), kexecFileOnCrash
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "kexecload:", err)
		os.Exit(1)
	}
	defer f.Close()
	cmdline, err := syscall.BytePtrFromString(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "kexecload:", err)
		os.Exit(1)
	}
	// kexec_file_load(kernel_fd, initrd_fd, cmdline_len incl. NUL, cmdline, flags)
	_, _, errno := syscall.Syscall6(sysKexecFileLoad, f.Fd(), initrdFd, uintptr(len(os.Args[2])+1),
		uintptr(unsafe.Pointer(cmdline)), flags, 0)
	if errno != 0 {
		fmt.Fprintf(os.Stderr, "kexecload: kexec_file_load %s: %v\n", os.Args[1], errno)
		os.Exit(1)
	}
}
