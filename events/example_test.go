package events_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/instantvoice/instantvoice-go/events"
)

func ExampleDecode() {
	ev, err := events.Decode([]byte(`{
		"direction": "INBOUND",
		"callerid": 2198765456,
		"type": "NEWCALL",
		"uniqueid": "1282781304.2.5",
		"agent": "default_1001",
		"queue": "7015"
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Type, ev.Direction, ev.CallerID, ev.UniqueID, ev.Agent)
	fmt.Println("queue:", string(ev.Extra["queue"]))

	_, err = events.Decode([]byte(`['NEWCALL']`))
	fmt.Println(errors.Is(err, events.ErrMalformed), err)
	// Output:
	// NEWCALL INBOUND 2198765456 1282781304.2.5 default_1001
	// queue: "7015"
	// true events: malformed event: not a JSON object at offset 0
}

// A CRM writes one record per finished call.
func ExampleTracker() {
	tracker, err := events.NewTracker(events.WithFinished(func(c events.Call) {
		fmt.Printf("%s %s %s from %s: rang %v, talked %v, %s\n",
			c.Agent, c.UniqueID, c.Direction, c.CallerID, c.RingDuration(), c.TalkDuration(), c.Reason)
	}))
	if err != nil {
		fmt.Println(err)
		return
	}

	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, ev := range []events.Event{
		{Type: events.NewCall, Agent: "default_1001", UniqueID: "1282781304.2.5", Direction: "INBOUND", CallerID: "2198765456", Received: start},
		{Type: events.Connect, Agent: "default_1001", UniqueID: "1282781304.2.5", Received: start.Add(6 * time.Second)},
		{Type: events.Hangup, Agent: "default_1001", UniqueID: "1282781304.2.5", Reason: events.ReasonByCaller, Received: start.Add(3 * time.Minute)},
	} {
		tracker.Apply(ev)
	}
	// Output:
	// default_1001 1282781304.2.5 INBOUND from 2198765456: rang 6s, talked 2m54s, BYCALLER
}

// A call placed with the NewCall method: the agent's leg (NEWCALL,
// CONNECT), then the remote party's (DNEWCALL, DCONNECT).
func ExampleTracker_newCall() {
	tracker, err := events.NewTracker(events.WithFinished(func(c events.Call) {
		fmt.Printf("%s dialed %s: remote leg %v, answered %v, rang %v, talked %v, %s\n",
			c.Agent, c.CallerID, c.Remote(), c.Answered(), c.RingDuration(), c.TalkDuration(), c.Reason)
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	ev := func(typ events.Type, sec int, reason string) events.Event {
		return events.Event{Type: typ, Agent: "default_1001", UniqueID: "1282779516.1.6", Direction: "OUTBOUND",
			CallerID: "6100", Reason: reason, Received: start.Add(time.Duration(sec) * time.Second)}
	}
	tracker.Apply(ev(events.NewCall, 0, ""))
	tracker.Apply(ev(events.Connect, 2, ""))
	tracker.Apply(ev(events.DNewCall, 3, ""))
	tracker.Apply(ev(events.DConnect, 15, ""))
	tracker.Apply(ev(events.Hangup, 75, events.ReasonByCallee))
	// Output:
	// default_1001 dialed 6100: remote leg true, answered true, rang 12s, talked 1m0s, BYCALLEE
}

// Calls whose HANGUP never arrives are handed over as expired.
func ExampleWithExpiry() {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tracker, err := events.NewTracker(
		events.WithExpiry(2*time.Hour),
		events.WithClock(clock),
		events.WithFinished(func(c events.Call) {
			fmt.Println(c.UniqueID, "expired:", c.Expired)
		}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	tracker.Apply(events.Event{Type: events.NewCall, Agent: "default_1001", UniqueID: "1.2.3"})
	now = now.Add(3 * time.Hour)
	fmt.Println(tracker.Expire(), "call expired")
	// Output:
	// 1.2.3 expired: true
	// 1 call expired
}

func ExampleBoard() {
	board, err := events.NewBoard()
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	board.Apply(events.Event{Type: events.Login, Agent: "default_1001", Received: start})
	board.Apply(events.Event{Type: events.Login, Agent: "default_1002", Received: start})
	board.Apply(events.Event{Type: events.Pause, Agent: "default_1002", Direction: "Lunch", Received: start.Add(time.Hour)})
	board.Apply(events.Event{Type: events.NewCall, Agent: "default_1001", UniqueID: "1.2.3", Received: start.Add(2 * time.Hour)})

	for _, a := range board.Snapshot() {
		fmt.Printf("%s %s since %s (pause: %q, call: %q)\n", a.Agent, a.Status(), a.Since.Format("15:04"), a.PauseReason, a.UniqueID)
	}
	// Output:
	// default_1001 ONCALL since 11:00 (pause: "", call: "1.2.3")
	// default_1002 PAUSED since 10:00 (pause: "Lunch", call: "")
}

func ExamplePoller_PollEvents() {
	poller, err := events.NewPoller()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, body := range []string{
		`{"direction": "OUTBOUND", "callerid": "1234", "type": "NEWCALL", "uniqueid": "1282779516.1.6", "agent": "default_1001"}`,
		`{"direction": "", "callerid": "1234", "type": "HANGUP", "uniqueid": "1282779516.1.6", "agent": "default_1001", "reason": "BYCALLEE"}`,
	} {
		ev, err := events.Decode([]byte(body))
		if err != nil {
			fmt.Println(err)
			return
		}
		poller.Apply(ev)
	}
	fmt.Println(poller.PollEvents())
	fmt.Println(poller.PollEvents()) // nothing new since the last poll
	// Output:
	// [{"direction":"OUTBOUND","callerid":"1234","type":"NEWCALL","uniqueid":"1282779516.1.6","agent":"default_1001"},{"direction":"","callerid":"1234","type":"HANGUP","uniqueid":"1282779516.1.6","agent":"default_1001","reason":"BYCALLEE"}]
	// []
}

// Run feeds a subscription to a tracker and a board. Here the subscription
// is fed by hand, as a transport (or a test) would.
func ExampleRun() {
	feed, err := events.NewFeed()
	if err != nil {
		fmt.Println(err)
		return
	}
	sub := feed.Subscription()
	defer sub.Close()

	tracker, err := events.NewTracker(events.WithFinished(func(c events.Call) {
		fmt.Println("finished:", c.UniqueID, c.Reason)
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	board, err := events.NewBoard()
	if err != nil {
		fmt.Println(err)
		return
	}

	received := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	topic := events.AgentTopic("default", "1001")
	feed.Deliver(events.Delivery{Topic: topic, Body: []byte(`{"type":"LOGIN","agent":"default_1001"}`), Received: received})
	feed.Deliver(events.Delivery{Topic: topic, Body: []byte(`{"type":"NEWCALL","direction":"INBOUND","callerid":"555","uniqueid":"1.2.3","agent":"default_1001"}`), Received: received})
	feed.Deliver(events.Delivery{Topic: topic, Body: []byte(`not an event`), Received: received})
	feed.Deliver(events.Delivery{Topic: topic, Body: []byte(`{"type":"HANGUP","uniqueid":"1.2.3","agent":"default_1001","reason":"QUEUEMISSED"}`), Received: received})
	feed.End(nil) // the transport is gone

	err = events.Run(context.Background(), sub, tracker, board)
	fmt.Println("run ended:", err)
	state, _ := board.Get("default_1001")
	fmt.Println("agent:", state.Status(), "malformed:", sub.Malformed())
	// Output:
	// finished: 1.2.3 QUEUEMISSED
	// run ended: events: subscription ended
	// agent: IDLE malformed: 1
}

// A subscription's consumer reads C until it closes, then asks Err why.
func ExampleSubscription() {
	feed, err := events.NewFeed(events.WithBuffer(16))
	if err != nil {
		fmt.Println(err)
		return
	}
	sub := feed.Subscription()
	feed.Deliver(events.Delivery{Topic: events.AllAgents, Body: []byte(`{"type":"LOGIN","agent":"default_1001"}`), Received: time.Now()})
	feed.End(errors.New("broker gone"))

	for ev := range sub.C() {
		fmt.Println(ev.Type, ev.Agent)
	}
	fmt.Println("ended:", sub.Err(), "dropped:", sub.Dropped())
	// Output:
	// LOGIN default_1001
	// ended: broker gone dropped: 0
}

// message is what a broker of your own delivers.
type message struct {
	topic string
	body  []byte
}

// subscribe is the event side of a transport of your own: it hands out a
// Subscription, fills it from the broker's messages, and ends it when the
// broker goes away.
func subscribe(messages <-chan message) (*events.Subscription, error) {
	unsubscribe := func() error { return nil } // tell the broker here
	feed, err := events.NewFeed(events.WithUnsubscribe(unsubscribe), events.WithBuffer(256))
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			select {
			case m, ok := <-messages:
				if !ok {
					feed.End(fmt.Errorf("broker gone"))
					return
				}
				feed.Deliver(events.Delivery{Topic: m.topic, Body: m.body, Received: time.Now()})
			case <-feed.Done(): // the consumer closed the subscription
				return
			}
		}
	}()
	return feed.Subscription(), nil
}

// A transport of your own makes the Subscriptions that events' sinks
// consume with a Feed.
func ExampleFeed() {
	messages := make(chan message, 2)
	sub, err := subscribe(messages)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()
	topic := events.AgentTopic("default", "1001")
	messages <- message{topic, []byte(`{"type":"NEWCALL","direction":"INBOUND","callerid":"555","uniqueid":"1.2.3","agent":"default_1001"}`)}
	messages <- message{topic, []byte(`{"type":"HANGUP","uniqueid":"1.2.3","agent":"default_1001","reason":"BYCALLER"}`)}
	close(messages)

	tracker, err := events.NewTracker(events.WithFinished(func(c events.Call) {
		fmt.Println("finished:", c.UniqueID, c.Direction, c.CallerID, c.Reason)
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = events.Run(context.Background(), sub, tracker)
	fmt.Println("run ended:", err)
	// Output:
	// finished: 1.2.3 INBOUND 555 BYCALLER
	// run ended: broker gone
}
