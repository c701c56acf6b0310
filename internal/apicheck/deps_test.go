package apicheck

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The commands a partner runs, the simulator and ivctl, are built without
// the testing package: it would add its flags to theirs, and it comes only
// through a test helper (ivtest.NewPlatform) reached by accident. They
// reach the fake platform through internal/fakeplatform, never through
// package ivtest.
func TestCommandsLinkNoTesting(t *testing.T) {
	for _, cmd := range []string{"./cmd/ivctl", "./examples/simulator"} {
		deps := goListDeps(t, cmd)
		if !slices.Contains(deps, "github.com/instantvoice/instantvoice-go/internal/fakeplatform") {
			t.Fatalf("%s: no internal/fakeplatform among its dependencies: is the list right?", cmd)
		}
		for _, bad := range []string{"testing", "github.com/instantvoice/instantvoice-go/ivclient/ivtest"} {
			if slices.Contains(deps, bad) {
				t.Errorf("%s links %s (go list -deps %s | grep -x %s)", cmd, bad, cmd, bad)
			}
		}
	}
}

// goListDeps returns the import paths of pkg and everything it imports,
// as the go command sees them for a build (not for its tests).
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	c := exec.Command("go", "list", "-deps", pkg)
	c.Dir = moduleRoot(t)
	out, err := c.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, msg)
	}
	return strings.Fields(string(out))
}

// moduleRoot is the directory of go.mod: two levels up from this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
