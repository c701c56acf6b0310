//go:build race

package stompx_test

// raceEnabled: the race detector multiplies memory use, so memory bounds
// are measured and logged but not asserted.
const raceEnabled = true
