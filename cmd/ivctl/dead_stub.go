//go:build !singleactive

package main

import "context"

// dead is "ivctl dead": this build's stompx has no dead letters yet.
func (c *cli) dead(context.Context, []string) error {
	return usageErr("dead: this build of ivctl has no dead letters")
}
