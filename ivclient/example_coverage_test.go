package ivclient_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"reflect"
	"testing"

	"github.com/instantvoice/instantvoice-go/internal/catalog"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// TestEveryMethodHasAnExample checks that example_test.go has an
// ExampleClient_<Method> for each of the platform's 41 methods, each a method
// of *Client and each with an output that go test verifies, plus the
// package's examples of the transports and of events.
func TestEveryMethodHasAnExample(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "example_test.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	examples := map[string]*doc.Example{}
	for _, ex := range doc.Examples(f) {
		examples["Example"+ex.Name] = ex // ex.Name is "Client_AgentLogin", "_soap", ""
	}

	methods := catalog.Methods()
	if len(methods) != 41 {
		t.Fatalf("catalog.Methods() lists %d methods, want 41", len(methods))
	}
	client := reflect.TypeOf(&ivclient.Client{})
	for _, info := range methods {
		m := info.Name
		if _, ok := client.MethodByName(m); !ok {
			t.Errorf("%s is not a method of *ivclient.Client", m)
		}
		name := "ExampleClient_" + m
		ex, ok := examples[name]
		if !ok {
			t.Errorf("no %s in example_test.go", name)
			continue
		}
		checkRuns(t, name, ex)
		if !calls(ex.Code, m) {
			t.Errorf("%s does not call the client's %s", name, m)
		}
	}
	for _, name := range []string{"Example", "Example_soap", "Example_tls", "Example_subscribe"} {
		ex, ok := examples[name]
		if !ok {
			t.Errorf("no %s in example_test.go", name)
			continue
		}
		checkRuns(t, name, ex)
	}
	if t.Failed() {
		return
	}
	t.Logf("%d examples, %d of them for the 41 methods", len(examples), len(methods))
}

// checkRuns fails unless ex has an output comment, so that go test runs it
// and compares what it prints.
func checkRuns(t *testing.T, name string, ex *doc.Example) {
	t.Helper()
	if ex.Output == "" && !ex.EmptyOutput {
		t.Errorf("%s has no // Output: comment: go test would only compile it", name)
	}
	if ex.Unordered {
		t.Errorf("%s has an unordered output: the examples' outputs are deterministic", name)
	}
}

// calls reports whether code calls c.<name>, c being the client in every
// example of a method.
func calls(code ast.Node, name string) bool {
	found := false
	ast.Inspect(code, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == name {
				if recv, ok := sel.X.(*ast.Ident); ok && recv.Name == "c" {
					found = true
				}
			}
		}
		return !found
	})
	return found
}
