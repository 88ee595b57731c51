//go:build !unix

package memlimit

func addressSpace() int64 { return 0 }
