package soapx_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/soapx"
)

// The reply of the benchmarks: the reference's AgentInfo example.
const benchReply = `<?xml version="1.0" encoding="utf-8"?>
<SOAP-ENV:Envelope xmlns:plnk="http://schemas.xmlsoap.org/ws/2003/05/partner-link/" xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/1999/XMLSchema-instance" xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns="Ivws.Ivws">
   <SOAP-ENV:Body>
      <AgentInfoResponse>
         <AgentInfoResult>
            <passwd xsi:type="xs:string">456</passwd>
            <accountcode xsi:type="xs:string">default</accountcode>
            <agents_id xsi:type="xs:integer">22</agents_id>
            <name xsi:type="xs:string">Foo Agent</name>
            <user xsi:type="xs:string">0001</user>
         </AgentInfoResult>
      </AgentInfoResponse>
   </SOAP-ENV:Body>
</SOAP-ENV:Envelope>`

// benchServer answers every POST with benchReply after reading the request,
// and GET ?wsdl with the test WSDL.
func benchServer(b *testing.B) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			io.WriteString(w, testWSDL(srv.URL+"/"))
			return
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		io.WriteString(w, benchReply)
	}))
	b.Cleanup(srv.Close)
	return srv
}

type agentArgs struct {
	Accountcode string `json:"accountcode" xml:"accountcode"`
	User        string `json:"user" xml:"user"`
}

// rawRequest and rawReply are what a hand-written client would declare for
// AgentInfo with encoding/xml.
type rawRequest struct {
	XMLName xml.Name `xml:"soap:Envelope"`
	Soap    string   `xml:"xmlns:soap,attr"`
	Body    struct {
		Call struct {
			XMLName     xml.Name `xml:"Ivws.Ivws AgentInfo"`
			Key         string   `xml:"key"`
			Accountcode string   `xml:"accountcode"`
			User        string   `xml:"user"`
		}
	} `xml:"soap:Body"`
}

type rawReply struct {
	Body struct {
		Response struct {
			Result struct {
				Passwd      string `xml:"passwd"`
				Accountcode string `xml:"accountcode"`
				AgentsID    int    `xml:"agents_id"`
				Name        string `xml:"name"`
				User        string `xml:"user"`
			} `xml:"AgentInfoResult"`
		} `xml:"AgentInfoResponse"`
	} `xml:"Body"`
}

// rawCall makes the AgentInfo call with net/http and encoding/xml alone.
func rawCall(ctx context.Context, hc *http.Client, url string, buf *bytes.Buffer) error {
	var req rawRequest
	req.Soap = "http://schemas.xmlsoap.org/soap/envelope/"
	req.Body.Call.Key, req.Body.Call.Accountcode, req.Body.Call.User = testKey, "default", "0001"
	buf.Reset()
	if err := xml.NewEncoder(buf).Encode(&req); err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(buf.Bytes()))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "text/xml; charset=utf-8")
	hr.Header.Set("SOAPAction", `"AgentInfo"`)
	resp, err := hc.Do(hr)
	if err != nil {
		return err
	}
	var out rawReply
	err = xml.NewDecoder(resp.Body).Decode(&out)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || out.Body.Response.Result.AgentsID != 22 {
		return fmt.Errorf("raw: %v %d %+v", err, resp.StatusCode, out)
	}
	return nil
}

// soapxCall makes the same call through soapx into the typed result.
func soapxCall(ctx context.Context, tr *soapx.Transport, req *ivclient.Request) error {
	var out ivclient.AgentInfo
	if err := tr.Call(ctx, req, &out); err != nil || out.ID != 22 {
		return fmt.Errorf("soapx: %v %+v", err, out)
	}
	return nil
}

// BenchmarkCall compares one AgentInfo call through soapx (gosoap, the
// round tripper, XML to JSON, the typed result) with the same POST made with
// net/http and encoding/xml into a hand-written struct, against the same
// server in the same run. The ratio raw/soapx of their ns/op is the figure
// of merit (goal: at least 0.8). Both HTTP clients use a clone of
// http.DefaultTransport.
//
// The "interleaved" sub-benchmark alternates the two calls in one loop and
// reports each one's mean time and the ratio, so that load on the machine
// weighs on both alike.
//
//	go test -run '^$' -bench BenchmarkCall -benchmem -count 6 ./soapx
func BenchmarkCall(b *testing.B) {
	srv := benchServer(b)
	ctx := context.Background()
	url := srv.URL + "/"
	newRaw := func(b *testing.B) *http.Client {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		b.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	newSoapx := func(b *testing.B) (*soapx.Transport, *ivclient.Request) {
		tr := newTransport(b, url)
		req := &ivclient.Request{Method: "AgentInfo", Key: testKey, Args: &agentArgs{"default", "0001"}}
		if err := soapxCall(ctx, tr, req); err != nil { // fetch the WSDL outside the timing
			b.Fatal(err)
		}
		return tr, req
	}

	b.Run("raw", func(b *testing.B) {
		hc := newRaw(b)
		var buf bytes.Buffer
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := rawCall(ctx, hc, url, &buf); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("soapx", func(b *testing.B) {
		tr, req := newSoapx(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := soapxCall(ctx, tr, req); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("interleaved", func(b *testing.B) {
		hc := newRaw(b)
		tr, req := newSoapx(b)
		var buf bytes.Buffer
		var rawT, soapxT time.Duration
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if err := rawCall(ctx, hc, url, &buf); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := soapxCall(ctx, tr, req); err != nil {
				b.Fatal(err)
			}
			rawT += t1.Sub(t0)
			soapxT += time.Since(t1)
		}
		b.ReportMetric(float64(rawT.Nanoseconds())/float64(b.N), "raw-ns/call")
		b.ReportMetric(float64(soapxT.Nanoseconds())/float64(b.N), "soapx-ns/call")
		b.ReportMetric(float64(rawT)/float64(soapxT), "raw/soapx")
	})
}

// BenchmarkCallParallel is BenchmarkCall with GOMAXPROCS goroutines calling
// at once through one transport (one *http.Client for raw).
func BenchmarkCallParallel(b *testing.B) {
	srv := benchServer(b)
	ctx := context.Background()
	url := srv.URL + "/"
	b.Run("raw", func(b *testing.B) {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var buf bytes.Buffer
			for pb.Next() {
				if err := rawCall(ctx, hc, url, &buf); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("soapx", func(b *testing.B) {
		tr := newTransport(b, url)
		req := &ivclient.Request{Method: "AgentInfo", Key: testKey, Args: &agentArgs{"default", "0001"}}
		if err := soapxCall(ctx, tr, req); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := soapxCall(ctx, tr, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
