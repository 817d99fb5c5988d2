package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/clearance-gw/clearance/internal/testlog"
)

// writeRecorder keeps each Write call separately.
type writeRecorder struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func line(n int, tag string) string {
	return tag + strings.Repeat("x", n-len(tag)-1) + "\n"
}

func TestLineWriterUnbufferedWritesEachLine(t *testing.T) {
	rec := &writeRecorder{}
	lw := newLineWriter(rec)
	lw.Write([]byte("a\n"))
	lw.Write([]byte("b\n"))
	if len(rec.writes) != 2 {
		t.Fatalf("%d writes, want one per line: %q", len(rec.writes), rec.writes)
	}
}

func TestLineWriterBuffersWholeLines(t *testing.T) {
	rec := &writeRecorder{}
	lw := newLineWriter(rec)
	lw.buffered = true

	a, b := line(1000, "a"), line(1000, "b")
	lw.Write([]byte(a))
	lw.Write([]byte(b))
	if len(rec.writes) != 0 {
		t.Fatalf("written before the buffer filled or a flush: %d writes", len(rec.writes))
	}
	if err := lw.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(rec.writes) != 1 || rec.writes[0] != a+b {
		t.Fatalf("flush: %d writes, want the two lines in one", len(rec.writes))
	}
	lw.Flush()
	if len(rec.writes) != 1 {
		t.Fatalf("an empty buffer was written")
	}

	// Filling the buffer writes what it holds before the line that
	// does not fit, never part of a line.
	rec.writes = nil
	var want strings.Builder
	for i := range 40 { // 40 KB of 1000-byte lines: past the 32 KiB buffer
		l := line(1000, fmt.Sprint(i, ":"))
		want.WriteString(l)
		lw.Write([]byte(l))
	}
	if len(rec.writes) != 1 {
		t.Fatalf("%d writes before the flush, want 1 (the full buffer)", len(rec.writes))
	}
	if n := len(rec.writes[0]); n > logBufferSize || n%1000 != 0 {
		t.Errorf("a write of %d bytes: not whole lines within %d", n, logBufferSize)
	}
	lw.Flush()
	if got := strings.Join(rec.writes, ""); got != want.String() {
		t.Error("the lines written are not the lines logged, in order")
	}

	// A line longer than the buffer goes out on its own, after what was
	// buffered before it.
	rec.writes = nil
	small, huge := line(10, "s"), line(logBufferSize+10, "h")
	lw.Write([]byte(small))
	lw.Write([]byte(huge))
	if len(rec.writes) != 2 || rec.writes[0] != small || rec.writes[1] != huge {
		t.Errorf("a huge line: writes %d, want the buffered line then the huge one", len(rec.writes))
	}
}

// The log of a real process goes to a file descriptor and is buffered;
// stopping the gateway writes every line of the requests it served.
func TestServeWritesBufferedLogAtShutdown(t *testing.T) {
	_, ti, path := configFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"ok":true}`)
	}))
	dir := filepath.Dir(path)
	f, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := startGatewayLogging(t, path, &testlog.Buffer{}, f)
	tok := ti.token(t, "charts")
	const n = 20
	for i := range n {
		req, _ := http.NewRequest(http.MethodGet, "http://"+g.addrs.Public+"/v1/charts/EDDF", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Request-Id", fmt.Sprint("buffered-", i))
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	g.cancel()
	if code := <-g.done; code != 0 {
		t.Fatalf("exit code %d", code)
	}
	g.done <- 0

	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	var last string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		var l struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		if l.Msg == "request" {
			ids[l.RequestID] = true
		}
		last = l.Msg
	}
	for i := range n {
		if !ids[fmt.Sprint("buffered-", i)] {
			t.Errorf("no access log line for request %d", i)
		}
	}
	if last != "stopped" {
		t.Errorf("last line %q, want the shutdown's %q", last, "stopped")
	}
}
