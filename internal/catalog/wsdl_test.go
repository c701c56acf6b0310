package catalog_test

import (
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/instantvoice/instantvoice-go/internal/catalog"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
)

// TestMethodTableMatchesWSDL holds the table's IVWS names to the WSDL of
// the fake platform, which is written from the reference on its own: every
// method's request elements, after the key, are its arguments' XMLNames in
// the order the client sends them.
func TestMethodTableMatchesWSDL(t *testing.T) {
	p := ivtest.NewPlatform(t)
	resp, err := http.Get(p.SOAPURL() + "?wsdl")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Elements []struct {
			Name   string `xml:"name,attr"`
			Params []struct {
				Name string `xml:"name,attr"`
			} `xml:"complexType>sequence>element"`
		} `xml:"types>schema>element"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	wsdl := map[string][]string{}
	for _, e := range doc.Elements {
		var names []string
		for _, p := range e.Params {
			names = append(names, p.Name)
		}
		wsdl[e.Name] = names
	}
	if len(wsdl) < 41 {
		t.Fatalf("%d elements in the WSDL's schema", len(wsdl))
	}
	for _, m := range catalog.Methods() {
		want := []string{"key"}
		for _, a := range m.Args {
			if a.XMLName != "" {
				want = append(want, a.XMLName)
			}
		}
		got, ok := wsdl[m.Name]
		if !ok {
			t.Errorf("%s: not in the WSDL", m.Name)
			continue
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s:\n WSDL  %s\n table %s", m.Name, strings.Join(got, " "), strings.Join(want, " "))
		}
	}
}
