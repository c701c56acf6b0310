package stompx

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/go-stomp/stomp/v3"

	"github.com/instantvoice/instantvoice-go/ivclient"
)

// Reply keys. Every access key that calls are made with gets a reply
// subscription (/topic/<key>) on the session's sub connection, made before
// the first request of that key is sent and restored on every reconnection
// (t.keys). Keys that ivclient clients acquire (ivclient.KeyHolder) are
// counted (t.keyRefs); when the last client of a key closes, its reply
// subscription is unsubscribed and the key forgotten, so that a transport
// shared by tenants that come and go holds only the keys in use. Keys used
// by Call directly, without a client, are kept until Close.

// errKeyReleased is the error of a call still in flight when the last
// client of its key closed.
var errKeyReleased = &transportError{msg: "stompx: the last client of the access key closed", kind: ivclient.ErrClosed}

// AcquireKey records one more client of key (ivclient.New calls it); see
// ivclient.KeyHolder.
func (t *Transport) AcquireKey(key string) {
	t.mu.Lock()
	t.keyRefs[key]++
	t.mu.Unlock()
}

// ReleaseKey records that a client of key closed (ivclient.Client.Close
// calls it). When it was the last one, the key's reply subscription is
// unsubscribed and the key is no longer restored on reconnection; calls of
// that key still in flight fail with an error wrapping ivclient.ErrClosed,
// and a later call of the key subscribes again.
func (t *Transport) ReleaseKey(key string) {
	t.mu.Lock()
	n, ok := t.keyRefs[key]
	if !ok || t.closed {
		t.mu.Unlock()
		return
	}
	if n > 1 {
		t.keyRefs[key] = n - 1
		t.mu.Unlock()
		return
	}
	delete(t.keyRefs, key)
	delete(t.keys, key)
	s := t.cur.Load()
	t.mu.Unlock()
	if s != nil {
		s.releaseKey(key)
	}
	// A session being connected now restored key from a copy of t.keys
	// taken before: connectSession releases it there once it is current.
	t.red.removeKey(key)
}

// keySub is the reply subscription of one key within a session.
type keySub struct {
	key   string
	ready chan struct{} // closed once confirmed (ok) or failed (err)
	ok    atomic.Bool
	err   error
	once  sync.Once

	mu       sync.Mutex
	ss       *stomp.Subscription // nil until subscribed
	released bool                // the key was released: unsubscribe, do not subscribe
}

func (ks *keySub) complete(s *session, err error) {
	ks.once.Do(func() {
		if err == nil {
			t := s.t
			ks.mu.Lock()
			released := ks.released
			ks.mu.Unlock()
			t.mu.Lock()
			if _, known := t.keys[ks.key]; !known && !released && t.cur.Load() == s {
				t.keys[ks.key] = struct{}{}
			}
			t.mu.Unlock()
			ks.ok.Store(true)
		} else {
			ks.err = err
		}
		close(ks.ready)
	})
}

// subscribeKey makes (once per session) the reply subscription of key,
// through the sync goroutine, and returns it; ks.ready closes once the
// broker has confirmed it (or the session failed first).
func (s *session) subscribeKey(key string) *keySub {
	if v, ok := s.keys.Load(key); ok {
		return v.(*keySub)
	}
	ks := &keySub{key: key, ready: make(chan struct{})}
	if v, loaded := s.keys.LoadOrStore(key, ks); loaded {
		return v.(*keySub)
	}
	s.t.red.addKey(key)
	s.requestSync(syncReq{
		prep: func() error { return s.attachKey(ks) },
		done: func(err error) { ks.complete(s, err) },
	})
	return ks
}

// attachKey subscribes the reply topic of ks and starts its pump, unless
// the key was released first. It runs on the sync goroutine.
func (s *session) attachKey(ks *keySub) error {
	ks.mu.Lock()
	released := ks.released
	ks.mu.Unlock()
	if released {
		return errRetry
	}
	ss, err := s.sub.Subscribe("/topic/"+ks.key, stomp.AckAuto)
	if err != nil {
		s.lost(err)
		return errRetry
	}
	if !s.t.spawn(func() { s.replyPump(ks.key, ss) }) {
		s.kill("transport closed", errClosed, false)
		return errRetry
	}
	ks.mu.Lock()
	released = ks.released
	if !released {
		ks.ss = ss
	}
	ks.mu.Unlock()
	if released {
		s.unsubscribe(ss)
		return errRetry
	}
	return nil
}

// ensureKey returns once the reply subscription of key is confirmed on s,
// with it. errRetry means s died first, or the key was released meanwhile
// (nothing was sent).
func (s *session) ensureKey(ctx context.Context, key string) (*keySub, error) {
	if v, ok := s.keys.Load(key); ok && v.(*keySub).ok.Load() {
		return v.(*keySub), nil
	}
	ks := s.subscribeKey(key)
	select {
	case <-ks.ready:
		if ks.err != nil {
			return nil, errRetry
		}
		return ks, nil
	case <-s.done:
		return nil, errRetry
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// releaseKey drops the reply subscription of key on s: calls of that key
// pending on s fail with errKeyReleased, and the topic is unsubscribed in
// the background (go-stomp's Unsubscribe waits for a RECEIPT; the pump
// ends when it comes).
func (s *session) releaseKey(key string) {
	s.mu.Lock()
	v, ok := s.keys.LoadAndDelete(key) // under s.mu: see roundTrip's check
	var failed []*call
	for id, c := range s.pending {
		if c.key == key {
			delete(s.pending, id)
			failed = append(failed, c)
		}
	}
	s.mu.Unlock()
	for _, c := range failed {
		c.ch <- result{err: errKeyReleased}
	}
	if !ok {
		return
	}
	ks := v.(*keySub)
	ks.mu.Lock()
	ks.released = true
	ss := ks.ss
	ks.ss = nil
	ks.mu.Unlock()
	if ss != nil {
		s.unsubscribe(ss)
	}
}

// unsubscribe unsubscribes ss in the background while s lives. The
// transport's goroutine waits for go-stomp's Unsubscribe or the end of the
// session, whichever comes first: Unsubscribe waits for the broker's
// RECEIPT (go-stomp's own server never sends one, so until the connection
// closes), and it can miss its wake-up for good (go-stomp v3.1.5 checks
// the state under closeMutex but broadcasts closeCond without it), in
// which case only go-stomp's goroutine stays behind, not the transport's.
func (s *session) unsubscribe(ss *stomp.Subscription) {
	select {
	case <-s.done:
		return // the connection is gone, and the subscription with it
	default:
	}
	s.t.spawn(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = ss.Unsubscribe()
		}()
		select {
		case <-done:
		case <-s.done:
		}
	})
}
