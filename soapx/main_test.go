package soapx

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test must leave no goroutine behind: no HTTP connection of a
// cancelled call, no gosoap refresh loop, no WSDL fetch.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
