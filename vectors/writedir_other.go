//go:build !linux

package vectors

func exchangeDirs(newDir, dir string) error { return renameSwap(newDir, dir) }
