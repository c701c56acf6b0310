package main

import (
	"bytes"
	"os"
	"testing"
)

// The committed catalog is what the generator makes of the ivclient source
// now: a changed doc comment, tag or method without go generate fails here.
func TestCatalogIsGenerated(t *testing.T) {
	want, err := generate("../../../ivclient")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../catalog_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("internal/catalog/catalog_gen.go is stale: run go generate ./internal/catalog")
	}
}
