package diskdump

import "syscall"

// errNoData is what SEEK_DATA fails with when no data follows the offset.
var errNoData error = syscall.ENXIO
