//go:build !singleactive

package integration

import "github.com/instantvoice/instantvoice-go/stompx"

// singleActive returns stompx.WithSingleActive and WithActiveChange(f); ok
// is false in this build, whose stompx does not have them yet.
func singleActive(f func(active bool)) (opts []stompx.DurableOption, ok bool) { return nil, false }
