package eventfeed_test

import (
	"context"
	"fmt"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
	"github.com/instantvoice/instantvoice-go/events/eventfeed"
)

// message is what a broker of your own delivers.
type message struct {
	topic string
	body  []byte
}

// subscribe is the event side of a transport of your own: it hands out a
// Subscription, fills it from the broker's messages, and ends it when the
// broker goes away.
func subscribe(messages <-chan message) *events.Subscription {
	unsubscribe := func() error { return nil } // tell the broker here
	sub, feed := eventfeed.New(unsubscribe, eventfeed.WithBuffer(256))
	go func() {
		for {
			select {
			case m, ok := <-messages:
				if !ok {
					feed.End(fmt.Errorf("broker gone"))
					return
				}
				feed.Publish(m.topic, m.body, time.Now())
			case <-feed.Done(): // the consumer closed the subscription
				return
			}
		}
	}()
	return sub
}

// A transport of your own makes the Subscriptions that events' sinks
// consume.
func Example() {
	messages := make(chan message, 2)
	sub := subscribe(messages)
	defer sub.Close()
	topic := events.AgentTopic("default", "1001")
	messages <- message{topic, []byte(`{"type":"NEWCALL","direction":"INBOUND","callerid":"555","uniqueid":"1.2.3","agent":"default_1001"}`)}
	messages <- message{topic, []byte(`{"type":"HANGUP","uniqueid":"1.2.3","agent":"default_1001","reason":"BYCALLER"}`)}
	close(messages)

	tracker := events.NewTracker(events.WithFinished(func(c events.Call) {
		fmt.Println("finished:", c.UniqueID, c.Direction, c.CallerID, c.Reason)
	}))
	err := events.Run(context.Background(), sub, tracker)
	fmt.Println("run ended:", err)
	// Output:
	// finished: 1.2.3 INBOUND 555 BYCALLER
	// run ended: broker gone
}

// A test feeds a subscription by hand, here to a Board.
func ExampleNew() {
	sub, feed := eventfeed.New(nil)
	feed.Publish(events.AllAgents, []byte(`{"type":"LOGIN","agent":"default_1001"}`), time.Now())
	feed.Publish(events.AllAgents, []byte(`{"type":"PAUSE","agent":"default_1001"}`), time.Now())
	feed.End(nil)

	board := events.NewBoard()
	_ = events.Run(context.Background(), sub, board)
	state, _ := board.Get("default_1001")
	fmt.Println(state.Status())
	// Output:
	// PAUSED
}
