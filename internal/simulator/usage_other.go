//go:build !unix

package simulator

import "time"

func usage() (cpu time.Duration, maxRSS int64, ok bool) { return 0, 0, false }
