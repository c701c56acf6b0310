package stompx

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
)

type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }

// redactor removes secrets from text that may reach a log line or an error
// string: the passcode, the access keys in use, and every key-shaped reply
// destination (/topic/<letters and digits>).
type redactor struct {
	passcode string
	mu       sync.Mutex
	keys     atomic.Pointer[[]string]
}

func (r *redactor) addKey(k string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.keys.Load()
	var ks []string
	if old != nil {
		for _, x := range *old {
			if x == k {
				return
			}
		}
		ks = append(ks, *old...)
	}
	ks = append(ks, k)
	r.keys.Store(&ks)
}

const redacted = "[redacted]"

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (r *redactor) redact(s string) string {
	if r == nil {
		return redactTopics(s)
	}
	if r.passcode != "" && strings.Contains(s, r.passcode) {
		s = strings.ReplaceAll(s, r.passcode, redacted)
	}
	if ks := r.keys.Load(); ks != nil {
		for _, k := range *ks {
			s = replaceWord(s, k)
		}
	}
	return redactTopics(s)
}

// replaceWord replaces every occurrence of w in s that is not part of a
// longer run of letters and digits.
func replaceWord(s, w string) string {
	if w == "" || !strings.Contains(s, w) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, w)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(w)
		if (i > 0 && isAlnum(s[i-1])) || (end < len(s) && isAlnum(s[end])) {
			b.WriteString(s[:end])
		} else {
			b.WriteString(s[:i])
			b.WriteString(redacted)
		}
		s = s[end:]
	}
}

// redactTopics hides the name of every /topic/ destination that looks like
// an access key (letters and digits only, not a dotted topic name such as
// /topic/iv.agents.default_1001).
func redactTopics(s string) string {
	const p = "/topic/"
	if !strings.Contains(s, p) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, p)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i + len(p)
		k := j
		for k < len(s) && isAlnum(s[k]) {
			k++
		}
		dotted := k < len(s) && (s[k] == '.' || s[k] == '_' || s[k] == '-') && k+1 < len(s) && (isAlnum(s[k+1]) || s[k+1] == '#' || s[k+1] == '*' || s[k+1] == '>')
		b.WriteString(s[:j])
		if k > j && !dotted {
			b.WriteString(redacted)
		} else {
			b.WriteString(s[j:k])
		}
		s = s[k:]
	}
}

// redactDest is the form of a destination that may be logged.
func redactDest(d string) string { return redactTopics(d) }

// stompLogger adapts slog to go-stomp's Logger, so that go-stomp never
// prints through the standard log package. Every line is redacted.
// go-stomp's Info lines (one per subscription when a connection ends) are
// logged at Debug level.
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
func (a stompLogger) Error(msg string)                 { a.log(slog.LevelError, msg) }

// removeKey forgets a key that is no longer in use.
func (r *redactor) removeKey(k string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.keys.Load()
	if old == nil {
		return
	}
	ks := make([]string, 0, len(*old))
	for _, x := range *old {
		if x != k {
			ks = append(ks, x)
		}
	}
	r.keys.Store(&ks)
}
