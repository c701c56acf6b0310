package ivclient_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
)

type ctxKey struct{}

func TestObserver(t *testing.T) {
	const key = "S3cretKey0bserved"
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			p := ivtest.NewPlatform(t, ivtest.WithKey(key), ivtest.WithAgent("default", "1001", "", "Alice"))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			transport, err := tr.dial(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			var seen []ivclient.CallInfo
			var ctxOK []bool
			c, err := ivclient.New(transport, key, ivclient.WithObserver(func(ctx context.Context, info ivclient.CallInfo) {
				seen = append(seen, info)
				ctxOK = append(ctxOK, ctx.Value(ctxKey{}) == "mine")
			}))
			if err != nil {
				t.Fatal(err)
			}
			ctx = context.WithValue(ctx, ctxKey{}, "mine")

			type want struct {
				method string
				err    error // nil: success
			}
			var wants []want
			check := func(method string, err, target error) {
				t.Helper()
				if target == nil && err != nil || target != nil && !errors.Is(err, target) {
					t.Fatalf("%s: %v, want %v", method, err, target)
				}
				wants = append(wants, want{method, target})
			}
			_, err = c.AgentInfo(ctx, "default", "1001")
			check("AgentInfo", err, nil)
			_, err = c.AgentInfo(ctx, "default", "4242")
			check("AgentInfo", err, codes.ErrNotFound)
			err = c.QueueAdd(ctx, ivclient.Queue{Accountcode: "default"}) // refused: no name
			check("QueueAdd", err, ivclient.ErrInvalidArgument)
			err = c.AgentLogin(ctx, "default", "1001", "") // refused: no interface
			check("AgentLogin", err, ivclient.ErrInvalidArgument)
			_, err = c.AgentList(ctx, "default")
			check("AgentList", err, nil)
			short, cancelShort := context.WithTimeout(ctx, time.Nanosecond)
			<-short.Done()
			err = c.AgentLogoff(short, "default", "1001")
			cancelShort()
			check("AgentLogoff", err, context.DeadlineExceeded)
			c.Close()
			err = c.AgentLogin(ctx, "default", "1001", "SIP/1001")
			check("AgentLogin", err, ivclient.ErrClosed)

			if len(seen) != len(wants) {
				t.Fatalf("observed %d calls, want %d: %+v", len(seen), len(wants), seen)
			}
			for i, w := range wants {
				info := seen[i]
				if info.Method != w.method {
					t.Errorf("call %d: method %q, want %q", i, info.Method, w.method)
				}
				if info.Duration <= 0 {
					t.Errorf("call %d (%s): duration %v, want positive", i, w.method, info.Duration)
				}
				if w.err == nil && info.Err != nil || w.err != nil && !errors.Is(info.Err, w.err) {
					t.Errorf("call %d (%s): Err %v, want %v", i, w.method, info.Err, w.err)
				}
				if !ctxOK[i] {
					t.Errorf("call %d (%s): the observer did not get the call's context", i, w.method)
				}
				all := fmt.Sprintf("%s %v %+v %#v", info.Method, info.Duration, info.Err, info)
				if info.Err != nil {
					all += info.Err.Error()
				}
				if strings.Contains(all, key) || strings.Contains(strings.ToLower(all), strings.ToLower(key)) {
					t.Errorf("call %d (%s): the key appears in %q", i, w.method, all)
				}
			}
			var ce *codes.Error
			if !errors.As(seen[1].Err, &ce) || ce.Code != codes.NotFound {
				t.Errorf("a platform code is observed as %#v, want a *codes.Error", seen[1].Err)
			}
		})
	}
}

func TestObserverNilContextAndOption(t *testing.T) {
	var got []context.Context
	c, err := ivclient.New(nopTransport{}, "k1", ivclient.WithObserver(func(ctx context.Context, _ ivclient.CallInfo) { got = append(got, ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1012 a nil context is what this test is about
	_ = c.AgentLogoff(nil, "default", "1001")
	if len(got) != 1 || got[0] == nil {
		t.Errorf("a call with a nil context was observed with %v, want context.Background()", got)
	}
	if _, err := ivclient.New(nopTransport{}, "k1", ivclient.WithObserver(nil)); err == nil {
		t.Error("WithObserver(nil) accepted")
	}
}

// nopTransport answers every call with success, at once.
type nopTransport struct{}

func (nopTransport) Call(context.Context, *ivclient.Request, any) error { return nil }
func (nopTransport) Close() error                                       { return nil }

// BenchmarkObserver is the cost of a call through the client over a
// transport that does nothing: with no observer (the default) and with one;
// and, for scale, without the default call timeout (whose context and timer
// are most of the default's cost).
func BenchmarkObserver(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		opts []ivclient.Option
	}{
		{"none", nil},
		{"none-no-timeout", []ivclient.Option{ivclient.WithoutCallTimeout()}},
		{"counter", []ivclient.Option{ivclient.WithObserver(func(context.Context, ivclient.CallInfo) {})}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := ivclient.New(nopTransport{}, "k1", bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := c.AgentLogoff(ctx, "default", "default_1001"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
