package ivtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/instantvoice/instantvoice-go/internal/fakeplatform"
)

// internalOnly are the methods of fakeplatform.Platform that ivtest does
// not offer, each for a reason a partner's test does not share.
var internalOnly = map[string]string{
	"Broker": "the embedded broker itself, for the fake's own tests (its clock)",
}

// TestEveryPlatformMethod holds ivtest.Platform to fakeplatform.Platform:
// a method added there reaches partners, with the same signature, or is
// listed in internalOnly with its reason.
func TestEveryPlatformMethod(t *testing.T) {
	in := reflect.TypeFor[*fakeplatform.Platform]()
	out := reflect.TypeFor[*Platform]()
	for i := range in.NumMethod() {
		m := in.Method(i)
		if _, ok := internalOnly[m.Name]; ok {
			if _, ok := out.MethodByName(m.Name); ok {
				t.Errorf("%s is in internalOnly but ivtest.Platform has it", m.Name)
			}
			continue
		}
		got, ok := out.MethodByName(m.Name)
		if !ok {
			t.Errorf("ivtest.Platform has no %s (add it, or list it in internalOnly with the reason)", m.Name)
			continue
		}
		// Compare without the receivers.
		if a, b := funcType(got.Type), funcType(m.Type); a != b {
			t.Errorf("ivtest.Platform.%s is %s, fakeplatform's is %s", m.Name, a, b)
		}
	}
	if out.NumMethod() != in.NumMethod()-len(internalOnly) {
		t.Errorf("ivtest.Platform has %d methods, fakeplatform.Platform %d less %d internal", out.NumMethod(), in.NumMethod(), len(internalOnly))
	}
}

func funcType(f reflect.Type) string {
	var ins, outs []reflect.Type
	for i := 1; i < f.NumIn(); i++ {
		ins = append(ins, f.In(i))
	}
	for i := range f.NumOut() {
		outs = append(outs, f.Out(i))
	}
	return reflect.FuncOf(ins, outs, f.IsVariadic()).String()
}

// TestAliasDocsNameEveryField: go doc shows an alias without its fields,
// so types.go spells them out in each alias's comment; a field added to
// the type must be added there.
func TestAliasDocsNameEveryField(t *testing.T) {
	types := map[string]reflect.Type{
		"Request": reflect.TypeFor[Request](), "AgentState": reflect.TypeFor[AgentState](),
		"QueueState": reflect.TypeFor[QueueState](), "Call": reflect.TypeFor[Call](), "SMS": reflect.TypeFor[SMS](),
		"Notice": reflect.TypeFor[Notice](), "Stats": reflect.TypeFor[Stats](), "BrokerQueue": reflect.TypeFor[BrokerQueue](),
		"LenientCount": reflect.TypeFor[LenientCount](),
	}
	f, err := parser.ParseFile(token.NewFileSet(), "types.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE && g.Doc != nil {
			docs[g.Specs[0].(*ast.TypeSpec).Name.Name] = g.Doc.Text()
		}
	}
	for name, typ := range types {
		doc, ok := docs[name]
		if !ok {
			t.Errorf("types.go: no commented alias %s", name)
			continue
		}
		for i := range typ.NumField() {
			field := typ.Field(i).Name
			if !regexp.MustCompile(`(?m)^\t` + field + `\s`).MatchString(doc) {
				t.Errorf("types.go: the comment of %s does not list its field %s", name, field)
			}
		}
	}
}

// TestDocsMatchFakeplatform: ivtest's methods and options forward to
// internal/fakeplatform, and each carries the same doc comment as the
// function it forwards to, so that a change of behaviour documented there
// reaches partners' go doc here (and the reverse).
func TestDocsMatchFakeplatform(t *testing.T) {
	public, internal := funcDocs(t, "."), funcDocs(t, "../../internal/fakeplatform")
	for name, doc := range public {
		if name == "Start" || name == "NewPlatform" {
			continue // ivtest's own
		}
		want, ok := internal[name]
		if !ok {
			t.Errorf("%s: fakeplatform has no such function", name)
			continue
		}
		if doc != want {
			t.Errorf("%s: ivtest's comment differs from fakeplatform's:\n%s\nfakeplatform:\n%s", name, doc, want)
		}
	}
}

// funcDocs returns the doc comments of the exported functions and
// Platform methods ("Platform.X") of the package in dir.
func funcDocs(t *testing.T, dir string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || !fd.Name.IsExported() || fd.Doc == nil {
				continue
			}
			name := fd.Name.Name
			if fd.Recv != nil {
				name = "Platform." + name
			}
			out[name] = fd.Doc.Text()
		}
	}
	return out
}
