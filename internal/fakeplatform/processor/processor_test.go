package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"go.uber.org/goleak"

	"github.com/instantvoice/instantvoice-go/internal/fakebroker"
	"github.com/instantvoice/instantvoice-go/internal/stomptest"
	"github.com/instantvoice/instantvoice-go/stompx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The processor gives each request to serve, publishes what serve
// enqueues in order, Sync waits for it, and Close publishes what is still
// queued before it stops; afterwards Enqueue and Sync report the close.
func TestServeAndPublishInOrder(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	b := fakebroker.New(log, stompx.DefaultLogin, stompx.DefaultPasscode)
	if err := b.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	var pr *Processor
	pr = New(log, stompx.DefaultLogin, stompx.DefaultPasscode, "/queue/requests", func(body []byte) {
		// Each request gets two replies, which must arrive in order.
		pr.Enqueue(Item{Dest: "/topic/replies", Body: append([]byte("a:"), body...)},
			Item{Dest: "/topic/replies", Body: append([]byte("b:"), body...)})
	})
	pr.Enqueue(Item{Dest: "/topic/replies", Body: []byte("before start")})

	sub := stomptest.Client(t, b.Addr())
	replies, err := sub.Subscribe("/topic/replies", stomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Send("/topic/sync", "", nil, stomp.SendOpt.Receipt); err != nil {
		t.Fatal(err) // the subscription is in place
	}
	if err := pr.Start(b.Addr()); err != nil {
		t.Fatal(err)
	}
	send := stomptest.Client(t, b.Addr())
	for i := range 3 {
		if err := send.Send(pr.Queue(), "", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"before start", "a:0", "b:0", "a:1", "b:1", "a:2", "b:2"}
	for _, w := range want {
		select {
		case m := <-replies.C:
			if m.Err != nil || string(m.Body) != w {
				t.Fatalf("got %q (%v), want %q", m.Body, m.Err, w)
			}
		case <-time.After(stomptest.WaitFor):
			t.Fatalf("no %q", w)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), stomptest.WaitFor)
	defer cancel()
	if err := pr.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	pr.Enqueue(Item{Dest: "/topic/replies", Body: []byte("at close")})
	pr.Close()
	select {
	case m := <-replies.C:
		if string(m.Body) != "at close" {
			t.Fatalf("got %q, want what was queued at Close", m.Body)
		}
	case <-time.After(stomptest.WaitFor):
		t.Fatal("what was queued at Close was not published")
	}
	if pr.Enqueue(Item{Dest: "/topic/replies", Body: []byte("late")}) {
		t.Error("Enqueue after Close reported success")
	}
	if err := pr.Sync(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close: %v, want ErrClosed", err)
	}
	pr.Close()
	if pr.Reconnects() != 0 || pr.PublishErrors() != 0 {
		t.Errorf("reconnects %d, publish errors %d", pr.Reconnects(), pr.PublishErrors())
	}
}
