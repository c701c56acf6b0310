package stompx

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrFrameTooLarge is wrapped by the error that ends a connection whose
// broker sent a frame past the transport's limits (WithFrameLimits): a
// command or header line too long, too many headers, or a body (announced
// by content-length or read up to its NUL) too large. Nothing of that frame
// is buffered beyond the limits. Calls in flight then fail with an error
// wrapping both it and ivclient.ErrConnectionLost, the state handler gets
// a Reconnecting change whose Err wraps it, and the transport reconnects as
// for any other loss.
var ErrFrameTooLarge = errors.New("stompx: broker sent a frame past the limits")

// Frame limits used unless WithFrameLimits says otherwise. They are far
// above what the platform sends (its largest replies, AgentList and
// QueueInfo of a big installation, are some hundred kilobytes; its headers
// are a handful of short lines) and keep a hostile or broken broker to a
// few tens of megabytes of memory per connection.
const (
	// DefaultMaxHeaderLine bounds the length of the command line and of
	// each header line, in bytes.
	DefaultMaxHeaderLine = 16 << 10
	// DefaultMaxHeaders bounds the number of header lines of one frame.
	DefaultMaxHeaders = 128
	// DefaultMaxFrameBody bounds the body of one frame, in bytes.
	DefaultMaxFrameBody = 16 << 20
)

type frameLimits struct {
	line, headers, body int
}

// frameGuard follows the frame structure of the bytes a broker sends, as
// they pass from the socket to go-stomp's frame reader, and reports the
// first frame past the limits before go-stomp has buffered it. go-stomp
// trusts the peer: it allocates what content-length announces and reads
// header lines and length-less bodies with unbounded bufio.ReadBytes, so
// the bound has to sit under it.
//
// The guard parses exactly as go-stomp's frame.Reader does, so the two
// never disagree on where a frame ends: lines end at '\n' (a '\r' before
// it is stripped); an empty line before a command is a heart-beat; the
// headers end at an empty line; the first content-length header, parsed
// as go-stomp parses it (strconv.ParseUint(v, 10, 32)), gives the body's
// length, followed by one terminating byte; without it the body runs to
// the first NUL.
type frameGuard struct {
	lim frameLimits

	st      guardState
	lineLen int  // bytes of the current line, '\n' excluded
	last    byte // the last byte of the current line
	headers int  // header lines of the current frame
	body    int  // body bytes read (or still to read, with content-length)
	// The start of the current header line, kept to recognise and parse
	// content-length; clBuf holds it while it can still be that header.
	clBuf  [len(clPrefix) + 24]byte
	clN    int
	clSeen bool // the frame's first content-length header was seen
	clLen  int  // its value, -1 when absent
}

type guardState uint8

const (
	gCommand    guardState = iota // reading a command line (or heart-beats)
	gHeader                       // reading a header line
	gBodyLen                      // reading a body of known length
	gBodyLenEnd                   // expecting the byte after a body of known length
	gBodyNUL                      // reading a body up to its NUL
)

const clPrefix = "content-length:"

func newFrameGuard(lim frameLimits) *frameGuard {
	return &frameGuard{lim: lim, clLen: -1}
}

// feed checks the next bytes from the broker; a non-nil error (wrapping
// ErrFrameTooLarge) means the connection must be dropped without handing
// them on.
func (g *frameGuard) feed(p []byte) error {
	for i := 0; i < len(p); {
		switch g.st {
		case gCommand, gHeader:
			// Scan to the end of the line, or of p.
			j := i
			for j < len(p) && p[j] != '\n' {
				j++
			}
			if g.st == gHeader {
				g.keepHeaderStart(p[i:j])
			}
			if j > i {
				g.last = p[j-1]
			}
			g.lineLen += j - i
			if g.lineLen > g.lim.line {
				return g.fail("a header line longer than %d bytes", g.lim.line)
			}
			if j == len(p) {
				return nil
			}
			if err := g.endLine(); err != nil {
				return err
			}
			i = j + 1
		case gBodyLen:
			n := len(p) - i
			if n > g.body {
				n = g.body
			}
			g.body -= n
			i += n
			if g.body == 0 {
				g.st = gBodyLenEnd
			}
		case gBodyLenEnd:
			// go-stomp reads one byte and fails the frame unless it is NUL.
			i++
			g.reset()
		case gBodyNUL:
			j := i
			for j < len(p) && p[j] != 0 {
				j++
			}
			g.body += j - i
			if g.body > g.lim.body {
				return g.fail("a body longer than %d bytes", g.lim.body)
			}
			if j == len(p) {
				return nil
			}
			i = j + 1
			g.reset()
		}
	}
	return nil
}

// keepHeaderStart records the start of a header line while it may be a
// content-length header.
func (g *frameGuard) keepHeaderStart(b []byte) {
	if g.clSeen || g.clN < 0 {
		return
	}
	for _, c := range b {
		if g.clN == len(g.clBuf) {
			g.clN = -1 // too long for a content-length go-stomp accepts
			return
		}
		if g.clN < len(clPrefix) && c != clPrefix[g.clN] {
			g.clN = -2 // another header
			return
		}
		g.clBuf[g.clN] = c
		g.clN++
	}
}

// endLine handles the end of a command or header line.
func (g *frameGuard) endLine() error {
	empty := g.lineLen == 0 || (g.lineLen == 1 && g.last == '\r')
	st := g.st
	g.lineLen = 0
	switch {
	case st == gCommand && empty:
		return nil // a heart-beat
	case st == gCommand:
		g.st = gHeader
		g.clN = 0
		return nil
	case !empty:
		g.headers++
		if g.headers > g.lim.headers {
			return g.fail("more than %d headers", g.lim.headers)
		}
		err := g.endHeader()
		g.clN = 0
		return err
	}
	// The empty line after the headers: the body follows.
	g.body = 0
	switch {
	case g.clLen > 0:
		g.st, g.body = gBodyLen, g.clLen
	case g.clLen == 0:
		g.st = gBodyLenEnd
	default:
		g.st = gBodyNUL
	}
	return nil
}

// endHeader parses a complete content-length header line, the first of
// the frame, as go-stomp will.
func (g *frameGuard) endHeader() error {
	if g.clSeen {
		return nil
	}
	switch {
	case g.clN == -1:
		// A content-length header too long to be a number go-stomp
		// accepts: refuse it rather than guess.
		g.clSeen = true
		return g.fail("a malformed content-length header")
	case g.clN < len(clPrefix):
		return nil // another header
	}
	g.clSeen = true
	v := g.clBuf[len(clPrefix):g.clN]
	if len(v) > 0 && v[len(v)-1] == '\r' {
		v = v[:len(v)-1]
	}
	n, err := strconv.ParseUint(string(v), 10, 32)
	if err != nil {
		// go-stomp fails the frame before reading its body: let it.
		return nil
	}
	if n > uint64(g.lim.body) {
		return g.fail("a body of %d bytes announced, the limit is %d", n, g.lim.body)
	}
	g.clLen = int(n)
	return nil
}

// reset prepares for the next frame.
func (g *frameGuard) reset() {
	g.st, g.lineLen, g.headers, g.body = gCommand, 0, 0, 0
	g.clN, g.clSeen, g.clLen = 0, false, -1
}

func (g *frameGuard) fail(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrFrameTooLarge, fmt.Sprintf(format, a...))
}
