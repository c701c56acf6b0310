package ivtest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/instantvoice/instantvoice-go/codes"
	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/internal/catalog"
	"github.com/instantvoice/instantvoice-go/ivclient"
	"github.com/instantvoice/instantvoice-go/ivclient/ivtest"
	"github.com/instantvoice/instantvoice-go/soapx"
	"github.com/instantvoice/instantvoice-go/stompx"
)

// clients returns a client over each transport, on one fake platform.
func clients(t *testing.T, p *ivtest.Platform) (map[string]*ivclient.Client, *stompx.Transport, *soapx.Transport) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := stompx.Dial(ctx, p.STOMPAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sp, err := soapx.New(p.SOAPURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	out := map[string]*ivclient.Client{}
	for name, tr := range map[string]ivclient.Transport{"stomp": st, "soap": sp} {
		c, err := ivclient.New(tr, p.Key(), ivclient.KeepTransportOpen())
		if err != nil {
			t.Fatal(err)
		}
		out[name] = c
	}
	return out, st, sp
}

// TestNilContext: every function of the SDK that takes a context fails
// with an error matching ivclient.ErrInvalidArgument for a nil one, and
// none panics.
//
//lint:file-ignore SA1012 a nil context is what this file is about
func TestNilContext(t *testing.T) {
	p := ivtest.NewPlatform(t)
	cs, st, sp := clients(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := st.Subscribe(ctx, events.AllAgents)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	req := &ivclient.Request{Method: "QueueList", Key: p.Key(), Args: map[string]string{"accountcode": "default"}}
	checks := map[string]func() error{
		"stompx.Dial":      func() error { _, err := stompx.Dial(nil, p.STOMPAddr()); return err },
		"stompx.Call":      func() error { return st.Call(nil, req, nil) },
		"stompx.Subscribe": func() error { _, err := st.Subscribe(nil, events.AllAgents); return err },
		"stompx.SubscribeDurable": func() error {
			_, err := st.SubscribeDurable(nil, "crm", []string{events.AllAgents})
			return err
		},
		"stompx.DeleteDurable": func() error { return st.DeleteDurable(nil, "crm") },
		"soapx.Call":           func() error { return sp.Call(nil, req, nil) },
		"events.Run":           func() error { return events.Run(nil, sub) },
		"ivtest.Platform.Sync": func() error { return p.Sync(nil) },
	}
	for name, c := range cs {
		checks[name+" Client.QueueList"] = func() error { _, err := c.QueueList(nil, "default"); return err }
		checks[name+" catalog.Invoke"] = func() error {
			_, err := catalog.Invoke(nil, c, "QueueList", map[string]any{"accountcode": "default"})
			return err
		}
	}
	for name, f := range checks {
		err := f()
		if !errors.Is(err, ivclient.ErrInvalidArgument) || !strings.Contains(err.Error(), "nil context") {
			t.Errorf("%s(nil): %v; want an error matching ivclient.ErrInvalidArgument that says nil context", name, err)
		}
	}
}

// TestErrorsNameTheMethodOnce: through the client, every error starts with
// "instantvoice: <Method>: " once, then the transport's text with its own
// prefix once; the sentinels still match.
func TestErrorsNameTheMethodOnce(t *testing.T) {
	p := ivtest.NewPlatform(t)
	cs, st, sp := clients(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done, stop := context.WithCancel(ctx)
	stop()

	for name, c := range cs {
		pkg := map[string]string{"stomp": "stompx: ", "soap": "soapx: "}[name]
		_, err := c.QueueInfo(ctx, "default", "4242")
		if !errors.Is(err, codes.ErrNotFound) || !strings.HasPrefix(err.Error(), "instantvoice: QueueInfo: RESPONSE_NOT_FOUND (3)") ||
			strings.Count(err.Error(), "QueueInfo") != 1 {
			t.Errorf("%s: QueueInfo of a missing queue: %v", name, err)
		}
		var ce *codes.Error
		if !errors.As(err, &ce) || ce.Method != "QueueInfo" {
			t.Errorf("%s: %v is not a *codes.Error for QueueInfo", name, err)
		}

		_, err = c.QueueList(done, "default")
		if want := "instantvoice: QueueList: " + pkg + "context canceled"; !errors.Is(err, context.Canceled) || err.Error() != want {
			t.Errorf("%s: cancelled call: %q, want %q", name, err, want)
		}

		err = c.AgentAdd(ctx, ivclient.Agent{})
		if !errors.Is(err, ivclient.ErrInvalidArgument) || strings.Count(err.Error(), "instantvoice:") != 1 {
			t.Errorf("%s: invalid argument: %v", name, err)
		}
	}

	// A transport's own error, called directly: its prefix, once.
	bad := &ivclient.Request{Method: "QueueList", Key: "not a key"}
	for name, err := range map[string]error{"stompx": st.Call(ctx, bad, nil), "soapx": sp.Call(ctx, bad, nil)} {
		if !errors.Is(err, ivclient.ErrInvalidKey) || !strings.HasPrefix(err.Error(), name+": invalid access key: ") ||
			strings.Contains(err.Error(), "instantvoice") {
			t.Errorf("%s.Call with a bad key: %v", name, err)
		}
	}

	st.Close()
	sp.Close()
	for name, c := range cs {
		_, err := c.QueueList(ctx, "default")
		if !errors.Is(err, ivclient.ErrClosed) || !strings.HasPrefix(err.Error(), "instantvoice: QueueList: ") ||
			strings.Count(err.Error(), "instantvoice:") != 1 {
			t.Errorf("%s: call on a closed transport: %v", name, err)
		}
	}
}
