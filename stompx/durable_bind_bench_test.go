package stompx_test

// How long SubscribeDurable takes with 60 topics on RabbitMQ: the binder
// subscribes every topic before the queue is consumed by name. Each
// iteration subscribes one new queue, closes and deletes it (the deletion
// is not timed):
//
//	IV_RABBITMQ_ADDR=127.0.0.1:61613 go test -run '^$' -bench SubscribeDurable60 -count 5 ./stompx

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func BenchmarkSubscribeDurable60(b *testing.B) {
	addr := benchRabbitAddr(b)
	id := randName("")
	topics := make([]string, 60)
	for i := range topics {
		topics[i] = fmt.Sprintf("/topic/bindbench.%s.%d", id, i)
	}
	tr := dial(b, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("stompxbench.bind.%s.%d", id, i)
		sub, err := tr.SubscribeDurable(ctx, name, topics)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		sub.Close()
		if err := tr.DeleteDurable(ctx, name); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
