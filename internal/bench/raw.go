package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// RunRaw runs l as Run does, but over HTTP/1.1 written and parsed by the
// generator itself: one keep-alive connection per worker, dialled once
// and again only after the server closed it or an error, each request
// serialized into a reused buffer and each answer read with a reused
// reader. It costs a few CPU µs per request where net/http's Transport
// costs tens (a read and a write goroutine per connection and channel
// hand-offs per request), CPU the generator would otherwise take from the
// proxies sharing its cores.
//
// An answer is framed by Content-Length, by the chunked transfer coding,
// or by the end of the connection; "Connection: close" is honoured.
// Exchange.Check gets an *http.Response holding only StatusCode and
// Header, both reused once Check returns; plain loads parse only the
// status and the framing headers.
func RunRaw(ctx context.Context, l Load) *Result {
	return run(ctx, l, func() sender { return newRawConn() })
}

// rawTimeout bounds one exchange, as NewClient's Timeout does.
const rawTimeout = 30 * time.Second

// rawConn is one worker's connection and its buffers.
type rawConn struct {
	dialer  net.Dialer
	conn    net.Conn
	br      *bufio.Reader
	urlHost string // req.URL.Host the connection was dialled for
	scheme  string
	addr    string // host:port dialled
	used    bool   // the connection has carried a whole exchange

	out  []byte        // the request as written
	body []byte        // the request's body, read from req.Body
	long []byte        // a line longer than br's buffer
	res  http.Response // given to Exchange.Check
}

func newRawConn() *rawConn {
	return &rawConn{
		dialer: net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		br:     bufio.NewReaderSize(nil, 16<<10),
		out:    make([]byte, 0, 4<<10),
	}
}

func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// send writes req and reads its whole answer. A request that finds its
// reused connection closed by the server before any byte of the answer
// arrived is sent again once on a new connection, as net/http does with
// an idle connection the server closed.
func (c *rawConn) send(req *http.Request, full bool, body *bytes.Buffer) (int, *http.Response, error) {
	if err := c.encode(req); err != nil {
		return 0, nil, err
	}
	for attempt := 0; ; attempt++ {
		if err := c.connect(req.URL); err != nil {
			return 0, nil, err
		}
		reused := c.used
		status, started, err := c.exchange(req.Method == http.MethodHead, full, body)
		if err == nil {
			c.used = true
			if !full {
				return status, nil, nil
			}
			c.res.StatusCode = status
			return status, &c.res, nil
		}
		c.close()
		if !reused || started || attempt > 0 {
			return 0, nil, err
		}
	}
}

// connect makes sure c holds a connection to u's host, dialling one if
// not.
func (c *rawConn) connect(u *url.URL) error {
	if c.conn != nil && u.Host == c.urlHost && u.Scheme == c.scheme {
		return nil
	}
	c.close()
	port := u.Port()
	switch {
	case port != "":
	case u.Scheme == "https":
		port = "443"
	case u.Scheme == "http":
		port = "80"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("raw client: unsupported scheme %q", u.Scheme)
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	conn, err := c.dialer.Dial("tcp", addr)
	if err != nil {
		return err
	}
	if u.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}})
		tc.SetDeadline(time.Now().Add(rawTimeout))
		if err := tc.Handshake(); err != nil {
			conn.Close()
			return err
		}
		conn = tc
	}
	c.conn, c.urlHost, c.scheme, c.addr, c.used = conn, u.Host, u.Scheme, addr, false
	c.br.Reset(conn)
	return nil
}

// encode writes req into c.out: the request line with the URL's
// RequestURI, Host, the request's headers, and Content-Length with the
// body when there is one.
func (c *rawConn) encode(req *http.Request) error {
	c.body = c.body[:0]
	hasBody := req.Body != nil && req.Body != http.NoBody
	if hasBody {
		for {
			if len(c.body) == cap(c.body) {
				c.body = slices.Grow(c.body, 512)
			}
			n, err := req.Body.Read(c.body[len(c.body):cap(c.body)])
			c.body = c.body[:len(c.body)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				req.Body.Close()
				return fmt.Errorf("read request body: %w", err)
			}
		}
		req.Body.Close()
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	b := append(c.out[:0], method...)
	b = append(b, ' ')
	b = append(b, req.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	agent := false
	for k, vs := range req.Header {
		if asciiEqualFold(k, "Host") || asciiEqualFold(k, "Content-Length") || asciiEqualFold(k, "Transfer-Encoding") {
			continue
		}
		agent = agent || asciiEqualFold(k, "User-Agent")
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if !agent {
		// What net/http sends, so that both clients cost the server the same.
		b = append(b, "User-Agent: Go-http-client/1.1\r\n"...)
	}
	if hasBody || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(c.body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	c.out = append(b, c.body...)
	return nil
}

// errMalformed is an answer the parser does not understand.
var errMalformed = errors.New("raw client: malformed answer")

// exchange writes c.out and reads the answer: its status, its body into
// body when full (else discarded), its headers into c.res.Header when
// full. started reports whether any byte of the answer was read.
func (c *rawConn) exchange(head, full bool, body *bytes.Buffer) (status int, started bool, err error) {
	if err := c.conn.SetDeadline(time.Now().Add(rawTimeout)); err != nil {
		return 0, false, err
	}
	if _, err := c.conn.Write(c.out); err != nil {
		return 0, false, err
	}
	if _, err := c.br.Peek(1); err != nil {
		return 0, false, err
	}
	var length int64
	var chunked, keep bool
	for {
		status, length, chunked, keep, err = c.readHead(full)
		if err != nil {
			return 0, true, err
		}
		// Interim answers (100 Continue, 103 Early Hints) precede the
		// real one.
		if status >= 200 || status == http.StatusSwitchingProtocols {
			break
		}
	}
	var sink *bytes.Buffer
	if full {
		sink = body
	}
	switch {
	case head || status == http.StatusNoContent || status == http.StatusNotModified:
	case chunked:
		err = c.readChunked(sink)
	case length >= 0:
		err = c.consume(length, sink)
	default:
		// Delimited by the end of the connection.
		err = c.consume(-1, sink)
		keep = false
	}
	if err != nil {
		return 0, true, err
	}
	if !keep {
		c.close()
	}
	return status, true, nil
}

// readHead reads a status line and the headers up to the blank line.
// length is -1 when the answer has no Content-Length.
func (c *rawConn) readHead(full bool) (status int, length int64, chunked, keep bool, err error) {
	line, err := c.readLine()
	if err != nil {
		return 0, 0, false, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return 0, 0, false, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return 0, 0, false, false, fmt.Errorf("%w: status line %q", errMalformed, line)
		}
		status = status*10 + int(d-'0')
	}
	http10 := line[7] == '0'
	keep = !http10 // HTTP/1.0 closes unless it says keep-alive
	length = -1
	var h http.Header
	if full {
		if c.res.Header == nil {
			c.res.Header = make(http.Header)
		}
		h = c.res.Header
		clear(h)
	}
	for {
		line, err := c.readLine()
		if err != nil {
			return 0, 0, false, false, err
		}
		if len(line) == 0 {
			return status, length, chunked, keep, nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, 0, false, false, fmt.Errorf("%w: header line %q", errMalformed, line)
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case asciiEqualFold(name, "Content-Length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || (length >= 0 && n != length) {
				return 0, 0, false, false, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
			length = n
		case asciiEqualFold(name, "Transfer-Encoding"):
			// chunked is the last coding whenever it is there (RFC 9112, 6.1).
			chunked = len(value) >= 7 && asciiEqualFold(value[len(value)-7:], "chunked")
			if !chunked {
				return 0, 0, false, false, fmt.Errorf("%w: Transfer-Encoding %q", errMalformed, value)
			}
		case asciiEqualFold(name, "Connection"):
			for opt := range bytes.SplitSeq(value, []byte(",")) {
				opt = bytes.TrimSpace(opt)
				switch {
				case asciiEqualFold(opt, "close"):
					keep = false
				case asciiEqualFold(opt, "keep-alive") && http10:
					keep = true
				}
			}
		}
		if full {
			k := http.CanonicalHeaderKey(string(name))
			h[k] = append(h[k], string(value))
		}
	}
}

// readChunked reads a body in the chunked transfer coding (RFC 9112,
// 7.1), trailers included, into sink (nil: discarded).
func (c *rawConn) readChunked(sink *bytes.Buffer) error {
	for {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || len(line) > 15 {
			return fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		var size int64
		for _, d := range line {
			switch {
			case d >= '0' && d <= '9':
				size = size<<4 | int64(d-'0')
			case d >= 'a' && d <= 'f':
				size = size<<4 | int64(d-'a'+10)
			case d >= 'A' && d <= 'F':
				size = size<<4 | int64(d-'A'+10)
			default:
				return fmt.Errorf("%w: chunk size %q", errMalformed, line)
			}
		}
		if size == 0 {
			for { // trailers, up to the blank line
				line, err := c.readLine()
				if err != nil {
					return err
				}
				if len(line) == 0 {
					return nil
				}
			}
		}
		if err := c.consume(size, sink); err != nil {
			return err
		}
		if line, err := c.readLine(); err != nil {
			return err
		} else if len(line) != 0 {
			return fmt.Errorf("%w: no CRLF after a chunk", errMalformed)
		}
	}
}

// consume reads n bytes of body (n < 0: up to the end of the connection)
// into sink, or discards them when sink is nil.
func (c *rawConn) consume(n int64, sink *bytes.Buffer) error {
	for n != 0 {
		if c.br.Buffered() == 0 {
			if _, err := c.br.Peek(1); err != nil {
				if n < 0 && err == io.EOF {
					return nil
				}
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		k := c.br.Buffered()
		if n > 0 && int64(k) > n {
			k = int(n)
		}
		if sink != nil {
			p, _ := c.br.Peek(k)
			sink.Write(p)
		}
		c.br.Discard(k)
		if n > 0 {
			n -= int64(k)
		}
	}
	return nil
}

// readLine returns the next line without its line end, valid until the
// next read.
func (c *rawConn) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		c.long = append(c.long[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(c.long) > 1<<20 {
				return nil, fmt.Errorf("%w: line over 1 MiB", errMalformed)
			}
			line, err = c.br.ReadSlice('\n')
			c.long = append(c.long, line...)
		}
		line = c.long
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// asciiEqualFold reports whether a and b are equal ignoring ASCII case.
func asciiEqualFold[T ~string | ~[]byte](a T, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
