package diskdump

import "github.com/panicscope/panicscope/vmcore/internal/lzo"

// unLZO decodes a DUMP_DH_COMPRESSED_LZO page (makedumpfile -l uses
// lzo1x_1_compress; crash reads it with lzo1x_decompress_safe).
func unLZO(dst, src []byte) error {
	n, err := lzo.Decompress(dst, src)
	if err != nil {
		return err
	}
	if n != len(dst) {
		return errSize
	}
	return nil
}
