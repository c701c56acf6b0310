//go:build singleactive

package integration

import "github.com/instantvoice/instantvoice-go/stompx"

// singleActive returns stompx.WithSingleActive, and WithActiveChange(f)
// when f is not nil.
func singleActive(f func(active bool)) (opts []stompx.DurableOption, ok bool) {
	opts = []stompx.DurableOption{stompx.WithSingleActive()}
	if f != nil {
		opts = append(opts, stompx.WithActiveChange(f))
	}
	return opts, true
}
