package stompx

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/instantvoice/instantvoice-go/internal/errs"
	"github.com/instantvoice/instantvoice-go/internal/wire"
	"github.com/instantvoice/instantvoice-go/ivclient"
)

// Call sends req to the platform and waits for its reply, which it decodes
// into out (out may be nil). A non-zero return code comes back as
// *codes.Error. The call ends with ctx: the error then wraps ctx.Err().
// When the connection drops while the call is in flight, the call fails at
// once with an error wrapping ivclient.ErrConnectionLost and is not re-sent;
// after Close, calls fail with an error wrapping ivclient.ErrClosed. While
// the transport is reconnecting, calls wait for it within ctx (or fail at
// once WithFailFast). A request larger than the largest reply the
// transport accepts (WithFrameLimits) is refused before anything is sent,
// with an error wrapping ivclient.ErrInvalidArgument: its reply could not
// be received.
func (t *Transport) Call(ctx context.Context, req *ivclient.Request, out any) error {
	switch {
	case ctx == nil:
		return errs.Wrap("stompx", ivclient.ErrInvalidArgument, "nil context", nil)
	case req == nil:
		return errs.Wrap("stompx", ivclient.ErrInvalidArgument, "nil request", nil)
	case !validMethod(req.Method):
		return errs.Wrap("stompx", ivclient.ErrInvalidArgument, "method name must be 1-64 ASCII letters, digits or '_'", nil)
	}
	method := req.Method
	if err := ivclient.CheckKey(req.Key); err != nil {
		return errs.Wrap("stompx", err, "", nil)
	}
	if err := ctx.Err(); err != nil {
		return errs.Wrap("stompx", err, "", nil)
	}
	id := uuid.NewString()
	body, err := wire.AppendRequest(make([]byte, 0, 192), method, req.Key, req.Args, id)
	if err != nil {
		return errs.Wrap("stompx", ivclient.ErrInvalidArgument, "arguments: "+err.Error(), nil)
	}
	if limit := t.opts.frameLimits.body; len(body) > limit {
		// Its reply, which repeats the arguments, could not be received:
		// it would drop the connection, and every call in flight with it.
		return errs.Wrap("stompx", ivclient.ErrInvalidArgument, fmt.Sprintf(
			"arguments: the request is %d bytes, more than the %d bytes a reply may have (WithFrameLimits)", len(body), limit), nil)
	}
	c := callPool.Get().(*call)
	c.key = req.Key
	r, err := t.roundTrip(ctx, c, id, body)
	c.key = ""
	callPool.Put(c)
	if err != nil {
		return callError(err)
	}
	return outcome(method, r, out)
}

// callError gives an error of a call the package's prefix once: the
// transport's own errors have it, a context's error gets it.
func callError(err error) error {
	if strings.HasPrefix(err.Error(), "stompx: ") {
		return err
	}
	return errs.Wrap("stompx", err, "", nil)
}

func validMethod(m string) bool {
	if m == "" || len(m) > 64 {
		return false
	}
	for i := 0; i < len(m); i++ {
		if !isAlnum(m[i]) && m[i] != '_' {
			return false
		}
	}
	return true
}

// call is a pending request: the dispatcher that removes it from the
// session's pending map sends its one result on ch (buffer 1, never full).
type call struct {
	ch  chan result
	key string
}

var callPool = sync.Pool{New: func() any { return &call{ch: make(chan result, 1)} }}

// roundTrip registers the call, hands its body to the session's writer and
// waits for the result. A session lost before the request was queued is
// retried on the next one: nothing was sent.
func (t *Transport) roundTrip(ctx context.Context, c *call, id string, body []byte) (result, error) {
	deadline, _ := ctx.Deadline()
	for {
		s, err := t.session(ctx)
		if err != nil {
			return result{}, t.callEnded(ctx, err)
		}
		if err := s.ensureKey(ctx, c.key); err != nil {
			if err == errRetry {
				continue // s is gone (it stopped being current first)
			}
			return result{}, t.callEnded(ctx, err)
		}
		s.mu.Lock()
		if s.dead {
			s.mu.Unlock()
			// s is ending: wait until it is no longer current.
			select {
			case <-s.done:
				continue
			case <-ctx.Done():
				return result{}, t.callEnded(ctx, ctx.Err())
			}
		}
		s.pending[id] = c
		s.mu.Unlock()
		if s.trySend(body, deadline) {
			return t.await(ctx, s, c, id)
		}
		select {
		case s.sendq <- outgoing{id: id, body: body, deadline: deadline}:
		case <-s.done:
			// The sweep gave the call its error, but the request was never
			// queued: take the result and try the next session.
			<-c.ch
			continue
		case <-ctx.Done():
			if s.unregister(id) {
				return result{}, t.callEnded(ctx, ctx.Err())
			}
			return t.took(<-c.ch), nil
		}
		return t.await(ctx, s, c, id)
	}
}

// await waits for the result of a call handed to session s.
func (t *Transport) await(ctx context.Context, s *session, c *call, id string) (result, error) {
	select {
	case r := <-c.ch:
		return t.took(r), nil
	case <-ctx.Done():
		if s.unregister(id) {
			return result{}, t.callEnded(ctx, ctx.Err())
		}
		return t.took(<-c.ch), nil
	}
}

// took counts a result a call returns: a failure without a reply is a
// call lost with its connection (or to Close).
func (t *Transport) took(r result) result {
	if r.err != nil {
		t.stats.lost.Add(1)
	}
	return r
}

// callEnded returns err, the reason a call ends without a result; when it is
// ctx's own error, the call counts as timed out, whatever it was waiting
// for (a session, its reply subscription, its reply).
func (t *Transport) callEnded(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && err == cerr {
		t.stats.timedOut.Add(1)
	}
	return err
}

// session returns the current session, waiting for one within ctx.
func (t *Transport) session(ctx context.Context) (*session, error) {
	for {
		if s := t.cur.Load(); s != nil {
			return s, nil
		}
		t.mu.Lock()
		s, ready, endErr := t.cur.Load(), t.readyCh, t.endErr
		t.mu.Unlock()
		if endErr != nil {
			return nil, endErr
		}
		if s != nil {
			return s, nil
		}
		if t.opts.failFast {
			return nil, errNotConnected
		}
		select {
		case <-ready:
		case <-t.ended:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
