package fakeprog

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// ModuleField is a member of a module-only struct: its type is a vmlinux
// type named as in BTF ("int", "long unsigned int").
type ModuleField struct {
	Name, BaseType string
}

type moduleStruct struct {
	name   string
	fields []ModuleField
}

// ModuleBTF gives module m split BTF (what btf_module_notify() copies
// into a struct btf on btf_modules, kernel/bpf/btf.c) describing struct
// name with fields whose types are in vmlinux BTF (see also
// Module.RawBTF).
func (k *Kernel) ModuleBTF(m *Module, name string, fields ...ModuleField) {
	m.btf = append(m.btf, moduleStruct{name, fields})
}

// writeModuleBTF encodes each module's split BTF over the vmlinux blob
// and links a struct btf_module for it on btf_modules.
func (k *Kernel) writeModuleBTF(base []byte) {
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(base))
	if err != nil {
		panic(fmt.Sprintf("fakeprog: own BTF: %v", err))
	}
	baseStrLen := binary.LittleEndian.Uint32(base[20:])
	for _, m := range k.mods {
		if len(m.btf) == 0 && m.RawBTF == nil {
			continue
		}
		blob := m.RawBTF
		if blob == nil {
			blob = splitBTF(spec, baseStrLen, m.btf)
		}
		data := k.Alloc(uint64(len(blob)), 8)
		k.Write(data, blob)
		const bt, mt = "struct btf", "struct btf_module"
		b := k.Object(bt)
		k.Set(b, bt, "data", data)
		k.Set(b, bt, "data_size", uint64(len(blob)))
		k.PutString(b+k.types.Offset(bt, "name"), m.Name)
		bm := k.Object(mt)
		k.Set(bm, mt, "module", m.Addr)
		k.Set(bm, mt, "btf", b)
		k.ListAddTail(bm+k.types.Offset(mt, "list"), k.Sym("btf_modules"))
	}
}

// splitBTF encodes structs as split BTF: its type IDs follow the base's
// (nothing refers to them here) and its string offsets start at the base
// string section's length (include/uapi/linux/btf.h).
func splitBTF(base *btf.Spec, baseStrLen uint32, structs []moduleStruct) []byte {
	le := binary.LittleEndian
	strs := []byte{0}
	str := func(s string) uint32 {
		off := baseStrLen + uint32(len(strs))
		strs = append(append(strs, s...), 0)
		return off
	}
	var types []byte
	for _, s := range structs {
		var members []byte
		var off, align uint32 = 0, 1
		for _, f := range s.fields {
			ty, err := base.AnyTypeByName(f.BaseType)
			if err != nil {
				panic(fmt.Sprintf("fakeprog: module BTF: %s: %v", f.BaseType, err))
			}
			id, err := base.TypeID(ty)
			if err != nil {
				panic(err)
			}
			size, err := btf.Sizeof(ty)
			if err != nil {
				panic(err)
			}
			a := uint32(min(size, 8))
			off = (off + a - 1) &^ (a - 1)
			members = le.AppendUint32(members, str(f.Name))
			members = le.AppendUint32(members, uint32(id))
			members = le.AppendUint32(members, off*8)
			off += uint32(size)
			align = max(align, a)
		}
		types = le.AppendUint32(types, str(s.name))
		types = le.AppendUint32(types, 4<<24|uint32(len(s.fields))) // BTF_KIND_STRUCT
		types = le.AppendUint32(types, (off+align-1)&^(align-1))
		types = append(types, members...)
	}
	hdr := make([]byte, 24)
	le.PutUint16(hdr[0:], 0xeb9f)
	hdr[2] = 1
	le.PutUint32(hdr[4:], 24)
	le.PutUint32(hdr[8:], 0)
	le.PutUint32(hdr[12:], uint32(len(types)))
	le.PutUint32(hdr[16:], uint32(len(types)))
	le.PutUint32(hdr[20:], uint32(len(strs)))
	return append(append(hdr, types...), strs...)
}
