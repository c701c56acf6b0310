package stompx

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/instantvoice/instantvoice-go/internal/secrets"
)

// redactor hides the passcode, the access keys in use and key-shaped reply
// destinations (/topic/<letters and digits>) in text that may reach a log
// line or an error string, by the rules of internal/secrets. A nil redactor
// hides only the topics.
type redactor struct{ r *secrets.Redactor }

func newRedactor(passcode string) *redactor { return &redactor{secrets.NewRedactor(passcode)} }

// addKey hides k from now on, at O(1) cost.
func (r *redactor) addKey(k string) { r.r.AddKey(k) }

func (r *redactor) redact(s string) string {
	if r == nil {
		return secrets.Topics(s)
	}
	return r.r.Redact(s)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// redactDest is the form of a destination that may be logged.
func redactDest(d string) string { return secrets.Topics(d) }

// stompLogger adapts slog to go-stomp's Logger, so that go-stomp never
// prints through the standard log package. Every line is redacted.
// go-stomp's Info lines (one per subscription when a connection ends) and
// its line for every ERROR frame (goStompErrorFrame) are logged at Debug
// level.
type stompLogger struct {
	l *slog.Logger
	r *redactor
}

func (a stompLogger) log(level slog.Level, msg string) {
	if !a.l.Enabled(context.Background(), level) {
		return
	}
	a.l.Log(context.Background(), level, "go-stomp: "+a.r.redact(msg))
}

func (a stompLogger) logf(level slog.Level, format string, v ...any) {
	if !a.l.Enabled(context.Background(), level) {
		return
	}
	a.log(level, fmt.Sprintf(format, v...))
}

func (a stompLogger) Debugf(format string, v ...any)   { a.logf(slog.LevelDebug, format, v...) }
func (a stompLogger) Infof(format string, v ...any)    { a.logf(slog.LevelDebug, format, v...) }
func (a stompLogger) Warningf(format string, v ...any) { a.logf(slog.LevelWarn, format, v...) }
func (a stompLogger) Errorf(format string, v ...any)   { a.logf(slog.LevelError, format, v...) }
func (a stompLogger) Debug(msg string)                 { a.log(slog.LevelDebug, msg) }
func (a stompLogger) Info(msg string)                  { a.log(slog.LevelDebug, msg) }
func (a stompLogger) Warning(msg string)               { a.log(slog.LevelWarn, msg) }
func (a stompLogger) Error(msg string)                 { a.log(errorLevel(msg), msg) }

// goStompErrorFrame is go-stomp's Error line for every ERROR frame it
// receives. The transport reports each ERROR it acts on itself (a lost
// connection, an ended subscription: Warn), and a standby of
// WithSingleActive gets one a second, refused the lock, which is no error:
// so that line is logged at Debug level.
const goStompErrorFrame = "received ERROR; Closing underlying connection"

func errorLevel(msg string) slog.Level {
	if msg == goStompErrorFrame {
		return slog.LevelDebug
	}
	return slog.LevelError
}
