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

// FuzzFrameGuard checks the guard's promise on any input: every frame
// go-stomp reads from the bytes the guard let through is within the limits.
func FuzzFrameGuard(f *testing.F) {
	f.Add([]byte("MESSAGE\ncontent-length:3\n\na\x00c\x00"))
	f.Add([]byte("\r\n\nMESSAGE\nx:y\r\n\r\nbody\x00"))
	f.Add([]byte("MESSAGE\ncontent-length:2000\n\n"))
	f.Add([]byte("MESSAGE\ncontent-length: 3\n\nabcdefgh\x00"))
	lim := frameLimits{line: 32, headers: 3, body: 16}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := frame.NewReader(&guardedReader{r: bytes.NewReader(data), g: newFrameGuard(lim)})
		for {
			fr, err := r.Read()
			if err != nil {
				return
			}
			if fr == nil {
				continue
			}
			if len(fr.Body) > lim.body || fr.Header.Len() > lim.headers || len(fr.Command) > lim.line {
				t.Fatalf("frame past the limits went through: %q, %d headers, %d body bytes", fr.Command, fr.Header.Len(), len(fr.Body))
			}
		}
	})
}
