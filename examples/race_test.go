//go:build race

package examples_test

// raceEnabled: the tests run with the race detector, and so do the programs
// they build.
const raceEnabled = true
