package vectors

import (
	"errors"

	"golang.org/x/sys/unix"
)

// exchangeDirs swaps newDir and dir atomically (renameat2 RENAME_EXCHANGE),
// falling back to renameSwap on file systems without it.
func exchangeDirs(newDir, dir string) error {
	err := unix.Renameat2(unix.AT_FDCWD, newDir, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		return renameSwap(newDir, dir)
	}
	return err
}
