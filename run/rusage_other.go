//go:build !unix

package run

// peakRSSMiB is unknown (0) where getrusage does not exist.
func peakRSSMiB() float64 { return 0 }
