package integration

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The test binary is also the worker process of the durable-event
	// tests: they start it again with workerEnv set.
	if os.Getenv(workerEnv) != "" {
		os.Exit(workerProcess())
	}
	goleak.VerifyTestMain(m)
}
