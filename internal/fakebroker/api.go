package fakebroker

import "time"

// Listen starts accepting connections on addr ("127.0.0.1:0" for any free
// port of loopback).
func (b *Broker) Listen(addr string) error { return b.listen(addr) }

// Addr returns the address Listen bound, "127.0.0.1:port".
func (b *Broker) Addr() string { return b.addr() }

// Close stops the listener, closes every connection and waits until every
// goroutine of the broker has returned. Calling it again does nothing.
func (b *Broker) Close() { b.close() }

// Overflows returns how many messages the broker dropped, oldest first,
// from queues holding MaxQueueBacklog messages or MaxQueueBacklogBytes.
func (b *Broker) Overflows() int64 { return b.overflows.Load() }

// Queue describes the queue of the given name (the queue Q of /queue/Q,
// or a durable subscription's x-queue-name); false if there is none.
func (b *Broker) Queue(name string) (QueueInfo, bool) { return b.queueInfo(name) }

// HoldQueue stops (hold true) or resumes deliveries from the queue of
// destination dest ("/queue/config"), as if its consumers were gone:
// messages wait in it, and expire, meanwhile. dest must be a /queue/
// destination; it returns false for any other.
func (b *Broker) HoldQueue(dest string, hold bool) bool {
	if !isQueue(dest) {
		return false
	}
	b.holdQueue(queueName(dest), hold)
	return true
}

// SetClock replaces the clock of message and queue expiry (time.Now by
// default), so that a test can move time by hand.
func (b *Broker) SetClock(now func() time.Time) {
	b.mu.Lock()
	b.now = now
	b.mu.Unlock()
}
