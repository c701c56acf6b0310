package fakebroker

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3"
	"go.uber.org/goleak"

	"github.com/instantvoice/instantvoice-go/stompx"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitFor = 5 * time.Second

func testLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// randomKey returns a name no other test run uses.
func randomKey() string {
	var b [8]byte
	rand.Read(b[:])
	return "iv" + hex.EncodeToString(b[:])
}

// quietLogger silences go-stomp's client.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any)   {}
func (quietLogger) Debug(string)            {}
func (quietLogger) Infof(string, ...any)    {}
func (quietLogger) Info(string)             {}
func (quietLogger) Warningf(string, ...any) {}
func (quietLogger) Warning(string)          {}
func (quietLogger) Errorf(string, ...any)   {}
func (quietLogger) Error(string)            {}

// dial connects a go-stomp client to addr and disconnects it when the test
// ends.
func dial(t testing.TB, addr string) *stomp.Conn {
	t.Helper()
	c, err := stomp.Dial("tcp", addr,
		stomp.ConnOpt.Login(stompx.DefaultLogin, stompx.DefaultPasscode),
		stomp.ConnOpt.HeartBeat(0, 0),
		stomp.ConnOpt.DisconnectReceiptTimeout(5*time.Second),
		stomp.ConnOpt.Logger(quietLogger{}))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Disconnect(); err != nil {
			c.MustDisconnect()
		}
	})
	return c
}
