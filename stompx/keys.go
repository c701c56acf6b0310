package stompx

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/go-stomp/stomp/v3"
)

// Reply keys. Every access key that calls are made with gets a reply
// subscription (/topic/<key>) on the session's sub connection, made before
// the first request of that key is sent. Once the broker has confirmed it,
// the key is known to the transport (keySet) and its subscription is
// restored on every reconnection, until Close. Nobody else can tear it
// down: a transport shared by several clients of one key, or by tenants
// that come and go, never loses a reply subscription another client still
// needs. The cost is one subscription per key ever used on the transport,
// which is a handful for a partner (one key per account).

// keySet is the keys whose reply subscription the transport restores on
// reconnection: the one owner of that state.
type keySet struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

// add records key (confirmed on the current session).
func (k *keySet) add(key string) {
	k.mu.Lock()
	if k.keys == nil {
		k.keys = make(map[string]struct{})
	}
	k.keys[key] = struct{}{}
	k.mu.Unlock()
}

// list returns the keys.
func (k *keySet) list() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]string, 0, len(k.keys))
	for key := range k.keys {
		out = append(out, key)
	}
	return out
}

// keySub is the reply subscription of one key within a session.
type keySub struct {
	key   string
	ready chan struct{} // closed once confirmed (ok) or failed (err)
	ok    atomic.Bool
	err   error
	once  sync.Once
}

func (ks *keySub) complete(s *session, err error) {
	ks.once.Do(func() {
		if err == nil {
			if s.t.cur.Load() == s {
				s.t.keys.add(ks.key)
			}
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

// attachKey subscribes the reply topic of ks and starts its pump. It runs
// on the sync goroutine.
func (s *session) attachKey(ks *keySub) error {
	ss, err := s.sub.stomp.Subscribe("/topic/"+ks.key, stomp.AckAuto)
	if err != nil {
		s.abort(err)
		return errRetry
	}
	if !s.sub.spawn(func() { s.replyPump(ks.key, ss) }) {
		return errRetry
	}
	return nil
}

// ensureKey returns once the reply subscription of key is confirmed on s.
// errRetry means s died first (nothing was sent).
func (s *session) ensureKey(ctx context.Context, key string) error {
	if v, ok := s.keys.Load(key); ok && v.(*keySub).ok.Load() {
		return nil
	}
	ks := s.subscribeKey(key)
	select {
	case <-ks.ready:
		if ks.err != nil {
			return errRetry
		}
		return nil
	case <-s.done:
		return errRetry
	case <-ctx.Done():
		return ctx.Err()
	}
}
