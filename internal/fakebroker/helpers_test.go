package fakebroker

import (
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/instantvoice/instantvoice-go/internal/stomptest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitFor = 5 * time.Second

func testLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// brokerClock gives b a clock the test moves by hand.
func brokerClock(b *Broker) *stomptest.Clock {
	c := stomptest.NewClock()
	b.SetClock(c.Now)
	return c
}
