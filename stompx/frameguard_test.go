package stompx

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/go-stomp/stomp/v3/frame"
)

// guardedReader hands go-stomp only the bytes the guard accepted.
type guardedReader struct {
	r   io.Reader
	g   *frameGuard
	err error
}

func (r *guardedReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.r.Read(p)
	if n > 0 {
		if gerr := r.g.feed(p[:n]); gerr != nil {
			r.err = gerr
			return 0, gerr
		}
	}
	return n, err
}

// validStream is a stream of well-formed frames as brokers write them:
// heart-beats, CRLF lines, bodies with and without content-length, NULs
// inside counted bodies.
func validStream(rng *rand.Rand, n int) ([]byte, frameLimits) {
	var buf bytes.Buffer
	w := frame.NewWriter(&buf)
	var lim frameLimits
	for i := 0; i < n; i++ {
		for k := rng.IntN(3); k > 0; k-- {
			if rng.IntN(2) == 0 {
				buf.WriteString("\n")
			} else {
				buf.WriteString("\r\n")
			}
		}
		f := frame.New(frame.MESSAGE, frame.Destination, "/topic/k", frame.MessageId, strconv.Itoa(i))
		for k := rng.IntN(6); k > 0; k-- {
			f.Header.Add("x-h"+strconv.Itoa(k), strings.Repeat("v", rng.IntN(300)))
		}
		body := bytes.Repeat([]byte{'b'}, rng.IntN(5000))
		if rng.IntN(2) == 0 {
			if len(body) > 0 {
				body[rng.IntN(len(body))] = 0 // counted bodies may hold NULs
			}
			f.Header.Add(frame.ContentLength, strconv.Itoa(len(body)))
		}
		f.Body = body
		if err := w.Write(f); err != nil {
			panic(err)
		}
		lim.headers = max(lim.headers, f.Header.Len())
		lim.body = max(lim.body, len(body))
	}
	lim.line = 400
	return buf.Bytes(), lim
}

// Well-formed frames split anywhere pass the guard at limits just above
// their sizes, and go-stomp reads them all; one byte less of body limit
// is refused.
func TestFrameGuardPassesValidFrames(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		data, lim := validStream(rng, 20)
		g := newFrameGuard(lim)
		for i := 0; i < len(data); {
			n := 1 + rng.IntN(700)
			if i+n > len(data) {
				n = len(data) - i
			}
			if err := g.feed(data[i : i+n]); err != nil {
				t.Fatalf("round %d: valid stream refused at byte %d: %v", round, i, err)
			}
			i += n
		}
		if g.st != gCommand {
			t.Fatalf("round %d: the guard ended inside a frame (state %d)", round, g.st)
		}
		r := frame.NewReader(&guardedReader{r: bytes.NewReader(data), g: newFrameGuard(lim)})
		frames := 0
		for {
			f, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("round %d: go-stomp: %v", round, err)
			}
			if f != nil {
				frames++
			}
		}
		if frames != 20 {
			t.Fatalf("round %d: %d frames read, want 20", round, frames)
		}
		lim.body--
		if err := newFrameGuard(lim).feed(data); !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("round %d: body limit one below the largest body: %v", round, err)
		}
	}
}

func TestFrameGuardRefuses(t *testing.T) {
	lim := frameLimits{line: 64, headers: 4, body: 100}
	for name, in := range map[string]string{
		"long command":         "MESSAGE" + strings.Repeat("E", 100),
		"long header":          "MESSAGE\nx:" + strings.Repeat("v", 100),
		"endless CRs":          strings.Repeat("\r", 100),
		"too many headers":     "MESSAGE\na:1\nb:2\nc:3\nd:4\ne:5\n",
		"announced body":       "MESSAGE\ncontent-length:101\n\n",
		"huge announced body":  "MESSAGE\ncontent-length:2000000000\n\n",
		"padded length":        "MESSAGE\ncontent-length:" + strings.Repeat("0", 40) + "1\n\n",
		"body without length":  "MESSAGE\n\n" + strings.Repeat("b", 101),
		"second frame's body":  "MESSAGE\ncontent-length:3\n\na\x00c\x00\nMESSAGE\n\n" + strings.Repeat("b", 101),
		"length of 2nd header": "MESSAGE\ncontent-length:1\ncontent-length:5\n\nx\x00MESSAGE\ncontent-length:500\n\n",
	} {
		err := newFrameGuard(lim).feed([]byte(in))
		if !errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("%s: %v, want ErrFrameTooLarge", name, err)
		}
	}
	// The first content-length counts, as in go-stomp: the NUL inside the
	// counted body does not end it.
	ok := "MESSAGE\ncontent-length:5\ncontent-length:1\n\na\x00bcd\x00\r\n\nRECEIPT\nreceipt-id:1\r\n\r\n\x00"
	g := newFrameGuard(lim)
	if err := g.feed([]byte(ok)); err != nil || g.st != gCommand {
		t.Fatalf("valid frames: %v, state %d", err, g.st)
	}
}

// FuzzFrameGuard checks the guard's promises on any input: every frame
// go-stomp reads from the bytes the guard let through is within the
// limits, and every ERROR frame go-stomp reads the guard has kept, alike.
func FuzzFrameGuard(f *testing.F) {
	f.Add([]byte("MESSAGE\ncontent-length:3\n\na\x00c\x00"))
	f.Add([]byte("\r\n\nMESSAGE\nx:y\r\n\r\nbody\x00"))
	f.Add([]byte("MESSAGE\ncontent-length:2000\n\n"))
	f.Add([]byte("MESSAGE\ncontent-length: 3\n\nabcdefgh\x00"))
	f.Add([]byte("\nERROR\r\nmessage:a\\cb\r\n\r\nwhy\x00ERROR\ncontent-length:2\n\n\x00x\x00"))
	lim := frameLimits{line: 32, headers: 3, body: 16}
	f.Fuzz(func(t *testing.T, data []byte) {
		g := newFrameGuard(lim)
		var kept []*frame.Frame
		g.onError = func(f *frame.Frame) { kept = append(kept, f) }
		r := frame.NewReader(&guardedReader{r: bytes.NewReader(data), g: g})
		var errs []*frame.Frame
		for {
			fr, err := r.Read()
			if err != nil {
				break
			}
			if fr == nil {
				continue
			}
			if len(fr.Body) > lim.body || fr.Header.Len() > lim.headers || len(fr.Command) > lim.line {
				t.Fatalf("frame past the limits went through: %q, %d headers, %d body bytes", fr.Command, fr.Header.Len(), len(fr.Body))
			}
			if fr.Command == frame.ERROR {
				errs = append(errs, fr)
			}
		}
		for i, e := range errs {
			if i >= len(kept) {
				t.Fatalf("go-stomp read %d ERROR frames, the guard kept %d", len(errs), len(kept))
			}
			sameError(t, kept[i], e)
		}
	})
}

// sameError fails unless the guard's kept frame says what go-stomp read:
// the same headers and body (up to the first NUL, where the guard cuts).
func sameError(t *testing.T, kept, read *frame.Frame) {
	t.Helper()
	body := read.Body
	if i := bytes.IndexByte(body, 0); i >= 0 {
		body = body[:i]
	}
	if kept.Command != frame.ERROR || !bytes.Equal(kept.Body, body) || kept.Header.Len() != read.Header.Len() {
		t.Fatalf("kept ERROR %v %q, go-stomp read %v %q", kept.Header, kept.Body, read.Header, read.Body)
	}
	for i := 0; i < read.Header.Len(); i++ {
		k, v := read.Header.GetAt(i)
		if kk, kv := kept.Header.GetAt(i); kk != k || kv != v {
			t.Fatalf("kept ERROR header %d %q:%q, go-stomp read %q:%q", i, kk, kv, k, v)
		}
	}
}

// The guard keeps every ERROR frame as go-stomp reads it, however the
// stream is split, and nothing else: not a MESSAGE whose body reads like
// one. A long ERROR body is kept cut.
func TestFrameGuardKeepsErrorFrames(t *testing.T) {
	var buf bytes.Buffer
	w := frame.NewWriter(&buf)
	write := func(f *frame.Frame) {
		if err := w.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	write(frame.New(frame.MESSAGE, frame.Destination, "/topic/x", frame.ContentLength, "13"))
	buf.Truncate(buf.Len() - 1)
	buf.WriteString("ERROR\nfake:1\x00\x00") // a counted body that reads like an ERROR, and its NUL
	e1 := frame.New(frame.ERROR, frame.Message, "Server cancelled subscription: a:b\nc", "receipt-id", "r1")
	e1.Body = []byte("Queue 'iv.events.x' in vhost '/' has canceled a subscription")
	write(e1)
	buf.WriteString("\r\n\n")
	write(frame.New(frame.MESSAGE, frame.Destination, "/topic/y"))
	e2 := frame.New(frame.ERROR, frame.Message, "PRECONDITION_FAILED", frame.ContentLength, "20")
	e2.Body = []byte("inequivalent arg 'x'")
	write(e2)
	buf.WriteString("ERROR\r\nmessage:crlf\r\n\r\nwhy\x00")
	data := buf.Bytes()

	rng := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 200; round++ {
		g := newFrameGuard(frameLimits{line: 400, headers: 10, body: 1000})
		var kept []*frame.Frame
		g.onError = func(f *frame.Frame) { kept = append(kept, f) }
		for i := 0; i < len(data); {
			n := min(1+rng.IntN(40), len(data)-i)
			if err := g.feed(data[i : i+n]); err != nil {
				t.Fatal(err)
			}
			i += n
		}
		r := frame.NewReader(bytes.NewReader(data))
		var read []*frame.Frame
		for {
			f, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if f != nil && f.Command == frame.ERROR {
				read = append(read, f)
			}
		}
		if len(read) != 3 || len(kept) != 3 {
			t.Fatalf("round %d: go-stomp read %d ERROR frames, the guard kept %d; want 3", round, len(read), len(kept))
		}
		for i := range read {
			sameError(t, kept[i], read[i])
		}
	}

	g := newFrameGuard(frameLimits{line: 400, headers: 10, body: 1 << 20})
	var kept *frame.Frame
	g.onError = func(f *frame.Frame) { kept = f }
	long := "ERROR\nmessage:long\n\n" + strings.Repeat("x", 3*errorKeep) + "\x00"
	if err := g.feed([]byte(long)); err != nil || kept == nil {
		t.Fatalf("long ERROR: %v, kept %v", err, kept)
	}
	if kept.Header.Get(frame.Message) != "long" || len(kept.Body) > errorKeep || !bytes.HasPrefix([]byte(long[20:]), kept.Body) || len(kept.Body) < errorKeep/2 {
		t.Fatalf("long ERROR kept as %v, %d body bytes", kept.Header, len(kept.Body))
	}
}
