package events

// lru is a map whose entries are also kept in the order they were last
// touched, oldest first. It is not safe for concurrent use.
type lru[K comparable, V any] struct {
	m    map[K]*lruEntry[K, V]
	root lruEntry[K, V] // root.next is the oldest entry, root.prev the newest
}

type lruEntry[K comparable, V any] struct {
	key        K
	val        V
	prev, next *lruEntry[K, V]
}

func newLRU[K comparable, V any]() *lru[K, V] {
	l := &lru[K, V]{m: make(map[K]*lruEntry[K, V])}
	l.root.next, l.root.prev = &l.root, &l.root
	return l
}

func (l *lru[K, V]) len() int { return len(l.m) }

func (l *lru[K, V]) get(k K) *lruEntry[K, V] { return l.m[k] }

// add inserts a new entry for k as the newest; k must not be present.
func (l *lru[K, V]) add(k K) *lruEntry[K, V] {
	e := &lruEntry[K, V]{key: k}
	l.m[k] = e
	l.link(e)
	return e
}

// touch makes e the newest entry.
func (l *lru[K, V]) touch(e *lruEntry[K, V]) {
	if l.root.prev == e {
		return
	}
	l.unlink(e)
	l.link(e)
}

func (l *lru[K, V]) remove(e *lruEntry[K, V]) {
	l.unlink(e)
	delete(l.m, e.key)
}

// oldest returns the least recently touched entry, or nil.
func (l *lru[K, V]) oldest() *lruEntry[K, V] {
	if l.root.next == &l.root {
		return nil
	}
	return l.root.next
}

// each calls f for every entry, oldest first; f must not change l.
func (l *lru[K, V]) each(f func(*lruEntry[K, V])) {
	for e := l.root.next; e != &l.root; e = e.next {
		f(e)
	}
}

func (l *lru[K, V]) link(e *lruEntry[K, V]) {
	e.prev, e.next = l.root.prev, &l.root
	l.root.prev.next = e
	l.root.prev = e
}

func (l *lru[K, V]) unlink(e *lruEntry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

// keyRing remembers the last n keys added, to recognise late events of
// calls that already finished and redelivered events. Its memory grows
// with the keys added, up to n, so that a large n (WithDedupeWindow) costs
// nothing until the events come.
type keyRing[K comparable] struct {
	keys []K
	n    int // the most keys remembered
	next int
	set  map[K]int // key -> how many times it is in keys
}

func newKeyRing[K comparable](n int) *keyRing[K] {
	if n < 1 {
		n = 1
	}
	return &keyRing[K]{keys: make([]K, 0, min(n, 256)), n: n, set: make(map[K]int)}
}

func (r *keyRing[K]) has(k K) bool { return r.set[k] > 0 }

// remove forgets k. The slots that held it are reused as they come round
// (a key added again before then may be forgotten early: the ring only
// ever remembers less, never more, than its last n keys).
func (r *keyRing[K]) remove(k K) { delete(r.set, k) }

func (r *keyRing[K]) add(k K) {
	if len(r.keys) < r.n {
		r.keys = append(r.keys, k)
	} else {
		old := r.keys[r.next]
		if n, ok := r.set[old]; ok {
			if n <= 1 {
				delete(r.set, old)
			} else {
				r.set[old] = n - 1
			}
		}
		r.keys[r.next] = k
		r.next = (r.next + 1) % len(r.keys)
	}
	r.set[k]++
}
