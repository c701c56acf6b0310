package secrets

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRedact(t *testing.T) {
	r := NewRedactor("sT0MpM3")
	r.AddKey("f054bbd2f5ebab9")
	r.AddKey("k2")
	cases := map[string]string{
		"":                              "",
		"nothing secret":                "nothing secret",
		"login failed for sT0MpM3!":     "login failed for [redacted]!",
		"xsT0MpM3x":                     "x[redacted]x", // wherever it occurs
		"key f054bbd2f5ebab9 refused":   "key [redacted] refused",
		"f054bbd2f5ebab9":               "[redacted]",
		"<key>f054bbd2f5ebab9</key>":    "<key>[redacted]</key>",
		"key=k2&k2=1":                   "key=[redacted]&[redacted]=1",
		"k22 ak2 k2k2":                  "[redacted]2 a[redacted] [redacted][redacted]", // inside other words too
		"SUBSCRIBE /topic/abcDEF123 ok": "SUBSCRIBE /topic/[redacted] ok",
		"/topic/iv.agents.default_1001": "/topic/iv.agents.default_1001",
		"/topic/iv.agents.#":            "/topic/iv.agents.#",
		"/topic/":                       "/topic/",
	}
	for in, want := range cases {
		assert.Equal(t, want, r.Redact(in), "%q", in)
	}

	r.RemoveKey("k2")
	assert.Equal(t, "k2 [redacted]", r.Redact("k2 f054bbd2f5ebab9"))
	assert.Equal(t, 1, r.Keys())

	var nilR *Redactor
	assert.Equal(t, "k2 /topic/[redacted]", nilR.Redact("k2 /topic/k2"))
	var zero Redactor
	zero.AddKey("k2")
	assert.Equal(t, "[redacted]", zero.Redact("k2"))
}

func TestHideKey(t *testing.T) {
	assert.Equal(t, "bad key [redacted] and [redacted]", HideKey("bad key abc123 and abc123", "abc123"))
	assert.Equal(t, "x[redacted]4 /topic/[redacted]", HideKey("xabc1234 /topic/abc123", "abc123"))
	assert.Equal(t, "text", HideKey("text", ""))
}

// Many tenants: adding keys does not copy the set, and redacting does not
// walk it.
func TestRedactManyKeys(t *testing.T) {
	r := NewRedactor("")
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2500; i++ {
				k := fmt.Sprintf("tenant%dk%d", g, i)
				r.AddKey(k)
				if got := r.Redact("reply for " + k); got != "reply for "+Mask {
					t.Errorf("%s: %q", k, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 10000, r.Keys())
	allocs := testing.AllocsPerRun(100, func() { _ = r.Redact("connection lost: read tcp 127.0.0.1:61613: EOF") })
	assert.Zero(t, allocs, "text without a secret is returned as it is")
}

func BenchmarkRedact10kKeys(b *testing.B) {
	r := NewRedactor("sT0MpM3")
	for i := 0; i < 10000; i++ {
		r.AddKey(fmt.Sprintf("tenant%d", i))
	}
	msg := "stompx: connection lost: read tcp 127.0.0.1:50522->127.0.0.1:61613: reply for tenant9999"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = r.Redact(msg)
	}
}

func TestRedactOverlappingKeys(t *testing.T) {
	r := NewRedactor("")
	r.AddKey("abc")
	r.AddKey("abcdef")
	r.AddKey("def")
	assert.Equal(t, "x[redacted]y [redacted] [redacted]", r.Redact("xabcdefy abc def"))
	r.RemoveKey("abcdef")
	assert.Equal(t, "x[redacted][redacted]y", r.Redact("xabcdefy"))
	r.RemoveKey("abc")
	r.RemoveKey("def")
	r.RemoveKey("def")
	assert.Equal(t, 0, r.Keys())
	assert.Equal(t, "abcdef", r.Redact("abcdef"))
}
