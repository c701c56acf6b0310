//go:build unix

package simulator

import (
	"runtime"
	"syscall"
	"time"
)

// usage is the CPU time the process has used and its peak resident memory.
func usage() (cpu time.Duration, maxRSS int64, ok bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0, false
	}
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	maxRSS = int64(ru.Maxrss)
	if runtime.GOOS != "darwin" {
		maxRSS *= 1024 // kilobytes elsewhere, bytes on macOS
	}
	return cpu, maxRSS, true
}
