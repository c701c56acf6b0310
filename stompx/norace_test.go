//go:build !race

package stompx_test

const raceEnabled = false
