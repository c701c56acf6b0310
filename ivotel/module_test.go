package ivotel_test

import (
	"os"
	"strings"
	"testing"
)

// TestSDKModuleHasNoOpenTelemetry: the SDK's own module, beside this one
// in the repository, requires nothing of OpenTelemetry: only services that
// import ivotel take the dependency. (Outside the repository, in a module
// cache, there is no ../go.mod to read.)
func TestSDKModuleHasNoOpenTelemetry(t *testing.T) {
	b, err := os.ReadFile("../go.mod")
	if os.IsNotExist(err) {
		t.Skip("not in the SDK's repository")
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "module github.com/instantvoice/instantvoice-go\n") {
		t.Skip("../go.mod is not the SDK's")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "opentelemetry") || strings.Contains(line, "prometheus") {
			t.Errorf("the SDK's go.mod lists %q", strings.TrimSpace(line))
		}
	}
}
