package stompx

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/go-stomp/stomp/v3/frame"
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

	// An ERROR frame is kept as it passes (the first errorKeep bytes of its
	// headers and body), because go-stomp can lose it: its I/O goroutine
	// takes either a frame read or a write to send, and a write that fails
	// on the socket the broker is closing ends it before it hands the ERROR
	// to anyone. onError gets each ERROR frame once it has passed whole.
	onError func(*frame.Frame)
	cmd     [len("ERROR\r")]byte // the start of the command line
	cmdN    int                  // bytes of it kept; -1: longer than ERROR\r
	keeping bool                 // the current frame is an ERROR being kept
	kept    []byte               // its bytes after the command line, errorKeep at most
}

// errorKeep bounds the bytes of an ERROR frame the guard keeps: RabbitMQ's
// are a few hundred.
const errorKeep = 4096

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
	from := 0 // where the bytes of a kept ERROR frame begin in p
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
			} else {
				g.keepCommand(p[i:j])
			}
			if j > i {
				g.last = p[j-1]
			}
			g.lineLen += j - i
			if g.lineLen > g.lim.line {
				return g.fail("a header line longer than %d bytes", g.lim.line)
			}
			if j == len(p) {
				i = j
				continue
			}
			wasCommand := g.st == gCommand
			if err := g.endLine(); err != nil {
				return err
			}
			i = j + 1
			if wasCommand && g.keeping {
				from = i
			}
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
			g.frameEnd(p[from:i])
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
				i = j
				continue
			}
			i = j + 1
			g.frameEnd(p[from:i])
		}
	}
	if g.keeping {
		g.keep(p[from:])
	}
	return nil
}

// keepCommand records the start of a command line, enough to tell ERROR.
func (g *frameGuard) keepCommand(b []byte) {
	for _, c := range b {
		if g.cmdN < 0 {
			return
		}
		if g.cmdN == len(g.cmd) {
			g.cmdN = -1
			return
		}
		g.cmd[g.cmdN] = c
		g.cmdN++
	}
}

// keep adds b to the ERROR frame being kept, up to errorKeep bytes.
func (g *frameGuard) keep(b []byte) {
	if n := errorKeep - len(g.kept); n > 0 {
		g.kept = append(g.kept, b[:min(n, len(b))]...)
	}
}

// frameEnd ends the current frame, whose last bytes in this feed are b,
// and hands a kept ERROR frame to onError.
func (g *frameGuard) frameEnd(b []byte) {
	if g.keeping {
		g.keep(b)
		if f := parseKeptError(g.kept); f != nil && g.onError != nil {
			g.onError(f)
		}
		g.kept = nil
	}
	g.reset()
}

// parseKeptError reads the headers and body of a kept ERROR frame (its
// bytes after the command line), as go-stomp would; a body cut at
// errorKeep is kept as cut. Header values are unescaped as STOMP 1.2 says.
func parseKeptError(b []byte) *frame.Frame {
	f := frame.New(frame.ERROR)
	for {
		line, rest, ok := bytes.Cut(b, []byte{'\n'})
		if !ok {
			return f // cut within the headers
		}
		b = rest
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte{':'}); ok {
			f.Header.Add(unescapeHeader(k), unescapeHeader(v))
		}
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	f.Body = b
	return f
}

// unescapeHeader undoes STOMP 1.2's header escapes (\\, \n, \r, \c) as
// go-stomp does: an unknown escape stays as it is.
func unescapeHeader(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+1 < len(b) {
			switch b[i+1] {
			case 'r':
				c = '\r'
			case 'n':
				c = '\n'
			case 'c':
				c = ':'
			case '\\':
			default:
				out = append(out, c)
				continue
			}
			i++
		}
		out = append(out, c)
	}
	return string(out)
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
		g.cmdN = 0
		return nil // a heart-beat
	case st == gCommand:
		cmd := g.cmd[:max(g.cmdN, 0)]
		g.keeping = g.cmdN >= 0 && (string(cmd) == frame.ERROR || string(cmd) == frame.ERROR+"\r")
		g.cmdN = 0
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
	g.cmdN, g.keeping = 0, false
}

func (g *frameGuard) fail(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrFrameTooLarge, fmt.Sprintf(format, a...))
}
