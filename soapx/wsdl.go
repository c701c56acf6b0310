package soapx

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"

	"golang.org/x/net/html/charset"
)

// definitions is what the transport keeps of the endpoint's WSDL.
type definitions struct {
	namespace string            // of the request elements
	actions   map[string]string // operation name -> SOAPAction
	address   string            // the soap:address the WSDL advertises (informational)
	// gosoapWSDL is the small WSDL handed to gosoap instead of the real one:
	// one schema with the namespace, one binding with the operations and
	// their actions, one service whose address is the configured endpoint.
	// gosoap indexes all three without checking (gosoap#25, #36) and takes
	// the address as the only endpoint (gosoap#75).
	gosoapWSDL []byte
}

// has reports whether the WSDL lists the operation. A WSDL that lists no
// operation at all is taken to allow every one.
func (d *definitions) has(op string) bool {
	if len(d.actions) == 0 {
		return true
	}
	_, ok := d.actions[op]
	return ok
}

// wsdlDoc reads the parts of a WSDL 1.1 document the transport needs.
// Element names are matched without their namespace, so that a WSDL with
// unusual prefixes or SOAP 1.2 bindings still reads.
type wsdlDoc struct {
	XMLName         xml.Name
	TargetNamespace string `xml:"targetNamespace,attr"`
	Types           []struct {
		Schemas []struct {
			TargetNamespace string `xml:"targetNamespace,attr"`
		} `xml:"schema"`
	} `xml:"types"`
	PortTypes []struct {
		Operations []struct {
			Name string `xml:"name,attr"`
		} `xml:"operation"`
	} `xml:"portType"`
	Bindings []struct {
		Operations []struct {
			Name string `xml:"name,attr"`
			Soap []struct {
				Action string `xml:"soapAction,attr"`
			} `xml:"operation"`
		} `xml:"operation"`
	} `xml:"binding"`
	Services []struct {
		Ports []struct {
			Addresses []struct {
				Location string `xml:"location,attr"`
			} `xml:"address"`
		} `xml:"port"`
	} `xml:"service"`
}

// parseWSDL reads a WSDL document. It never panics on a document that lacks
// a part: a missing namespace falls back to the definitions' target
// namespace, then to override, then to "Ivws.Ivws".
func parseWSDL(b []byte, override, endpoint string) (*definitions, error) {
	var doc wsdlDoc
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.CharsetReader = charset.NewReaderLabel
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a WSDL document: %v", err)
	}
	if doc.XMLName.Local != "definitions" {
		return nil, fmt.Errorf("not a WSDL 1.1 document: root element is <%s>", doc.XMLName.Local)
	}
	d := &definitions{actions: make(map[string]string)}
	for _, pt := range doc.PortTypes {
		for _, op := range pt.Operations {
			if op.Name != "" {
				d.actions[op.Name] = ""
			}
		}
	}
	for _, bd := range doc.Bindings {
		for _, op := range bd.Operations {
			if op.Name == "" {
				continue
			}
			action := ""
			for _, s := range op.Soap {
				if s.Action != "" {
					action = s.Action
					break
				}
			}
			if action != "" || d.actions[op.Name] == "" {
				d.actions[op.Name] = action
			}
		}
	}
	for _, s := range doc.Services {
		for _, p := range s.Ports {
			for _, a := range p.Addresses {
				if d.address == "" && a.Location != "" {
					d.address = a.Location
				}
			}
		}
	}
	switch {
	case override != "":
		d.namespace = override
	default:
		for _, t := range doc.Types {
			for _, s := range t.Schemas {
				if d.namespace == "" && s.TargetNamespace != "" {
					d.namespace = s.TargetNamespace
				}
			}
		}
		if d.namespace == "" {
			d.namespace = doc.TargetNamespace
		}
		if d.namespace == "" {
			d.namespace = "Ivws.Ivws"
		}
	}
	d.gosoapWSDL = d.synthesize(endpoint)
	return d, nil
}

// synthesize writes the WSDL gosoap is given: exactly the parts gosoap
// reads, each present once, with the configured endpoint as the address.
func (d *definitions) synthesize(endpoint string) []byte {
	var b bytes.Buffer
	attr := func(s string) {
		b.WriteByte('"')
		_ = xml.EscapeText(&b, []byte(s))
		b.WriteByte('"')
	}
	b.WriteString(`<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace=`)
	attr(d.namespace)
	b.WriteString(`><types><xs:schema targetNamespace=`)
	attr(d.namespace)
	b.WriteString(`/></types><binding name="soapx"><soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>`)
	for name, action := range d.actions {
		b.WriteString(`<operation name=`)
		attr(name)
		b.WriteString(`><soap:operation soapAction=`)
		attr(action)
		b.WriteString(`/></operation>`)
	}
	b.WriteString(`</binding><service name="soapx"><port name="soapx" binding="soapx"><soap:address location=`)
	attr(endpoint)
	b.WriteString(`/></port></service></definitions>`)
	return b.Bytes()
}

// fetchWSDL gets and parses the WSDL with ctx, checking the HTTP status and
// bounding the size.
func (t *Transport) fetchWSDL(ctx context.Context) (*definitions, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.wsdlURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/xml, application/xml, */*")
	t.decorate(req)
	resp, err := t.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the *url.Error prefix; the URL is added below
		}
		return nil, fmt.Errorf("GET %s: %w", t.wsdlURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, t.opts.maxReply+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading: %w", t.wsdlURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %s", t.wsdlURL, resp.Status)
	}
	if int64(len(body)) > t.opts.maxReply {
		return nil, fmt.Errorf("GET %s: WSDL larger than %d bytes", t.wsdlURL, t.opts.maxReply)
	}
	d, err := parseWSDL(body, t.opts.namespace, t.endpoint)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", t.wsdlURL, err)
	}
	return d, nil
}

// wsdlFetch is one fetch in flight; callers that arrive meanwhile wait for
// it rather than fetching again.
type wsdlFetch struct {
	done chan struct{}
	defs *definitions
	err  error
	ctx  context.Context // the fetching caller's context
}

// definitions returns the WSDL facts, fetching them with ctx on first use.
// A failed fetch is not remembered: the next call fetches again. Callers
// that arrive while a fetch is in flight wait for it (or for their own ctx);
// if it failed only because the fetching caller gave up, they fetch
// themselves.
func (t *Transport) definitions(ctx context.Context) (*definitions, error) {
	for {
		if d := t.defs.Load(); d != nil {
			return d, nil
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return nil, errClosed
		}
		if d := t.defs.Load(); d != nil {
			t.mu.Unlock()
			return d, nil
		}
		if f := t.fetch; f != nil {
			t.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if f.err == nil {
				return f.defs, nil
			}
			if f.ctx.Err() != nil && ctx.Err() == nil {
				continue // the fetcher gave up, not the endpoint: try ourselves
			}
			return nil, f.err
		}
		f := &wsdlFetch{done: make(chan struct{}), ctx: ctx}
		t.fetch = f
		t.mu.Unlock()

		f.defs, f.err = t.fetchWSDL(ctx)

		t.mu.Lock()
		t.fetch = nil
		if f.err == nil {
			t.defs.Store(f.defs)
		}
		t.mu.Unlock()
		close(f.done)
		if f.err == nil {
			t.log.LogAttrs(ctx, slog.LevelDebug, "soapx: WSDL loaded",
				slog.String("url", t.wsdlURL), slog.Int("operations", len(f.defs.actions)),
				slog.String("namespace", f.defs.namespace), slog.String("advertised_address", f.defs.address))
		} else {
			t.log.LogAttrs(ctx, slog.LevelDebug, "soapx: WSDL fetch failed", slog.String("url", t.wsdlURL), slog.String("error", f.err.Error()))
		}
		return f.defs, f.err
	}
}
