package ivclient_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestReadmeUse checks that the README's "Use" program is Example_readme
// (which go test runs, output and all): the same imports, and main's body
// the example's up to its "// Output:".
func TestReadmeUse(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, use, ok := strings.Cut(string(readme), "\n## Use\n")
	_, block, ok2 := strings.Cut(use, "```go\n")
	block, _, ok3 := strings.Cut(block, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md: no ```go block under ## Use")
	}
	progImports, progBody := funcOf(t, "README.md", block, "main")
	exImports, exBody := funcOf(t, "example_readme_test.go", nil, "Example_readme")
	exBody, _, _ = strings.Cut(exBody, "\t// Output:")
	if !slices.Equal(progImports, exImports) {
		t.Errorf("the README's program imports %v, Example_readme's file %v", progImports, exImports)
	}
	if strings.TrimSpace(progBody) != strings.TrimSpace(exBody) {
		t.Errorf("the README's main differs from Example_readme:\n--- README\n%s\n--- example_readme_test.go\n%s", progBody, exBody)
	}
}

// funcOf parses a Go file (src, or the file name when src is nil) and
// returns its import paths and the source between the braces of func name.
func funcOf(t *testing.T, name string, src any, fn string) ([]string, string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	text, ok := src.(string)
	if !ok {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		text = string(b)
	}
	var imports []string
	for _, is := range f.Imports {
		imports = append(imports, is.Path.Value)
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == fn && fd.Body != nil {
			lo, hi := fset.Position(fd.Body.Lbrace).Offset+1, fset.Position(fd.Body.Rbrace).Offset
			return imports, text[lo:hi]
		}
	}
	t.Fatalf("%s: no func %s", name, fn)
	return nil, ""
}
