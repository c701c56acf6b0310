package stompx

import (
	"testing"

	"github.com/go-stomp/stomp/v3"
)

// The queue keeps the order of its messages, hands every one on, and
// ends once closed and empty.
func TestMsgQueueOrder(t *testing.T) {
	q := &msgQueue{ready: make(chan struct{}, 1)}
	const n = 10000
	msgs := make([]*stomp.Message, n)
	go func() {
		for i := range msgs {
			msgs[i] = &stomp.Message{}
			q.push(msgs[i])
		}
		q.close()
	}()
	i := 0
	q.each(func(m *stomp.Message) {
		if i >= n || m != msgs[i] {
			t.Fatalf("message %d out of order", i)
		}
		i++
	})
	if i != n {
		t.Fatalf("%d of %d messages handed on", i, n)
	}
}

// BenchmarkPairedRelay is the cost of relay's hop per message, paired with
// go-stomp's own hand-off (a channel of 16) in the same run.
func BenchmarkPairedRelay(b *testing.B) {
	m := &stomp.Message{}
	b.Run("channel16", func(b *testing.B) {
		c := make(chan *stomp.Message, 16)
		go func() {
			for i := 0; i < b.N; i++ {
				c <- m
			}
			close(c)
		}()
		for range c {
		}
	})
	b.Run("relay", func(b *testing.B) {
		q := &msgQueue{ready: make(chan struct{}, 1)}
		go func() {
			for i := 0; i < b.N; i++ {
				q.push(m)
			}
			q.close()
		}()
		q.each(func(*stomp.Message) {})
	})
}
