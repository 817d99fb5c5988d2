package testbrowser

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestStartedBrowserRendersAPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<!doctype html><title>t</title><p id="p">hello</p><script>document.title = "ran"</script>`)
	}))
	t.Cleanup(srv.Close)
	ctx := Start(t)
	Do(t, ctx, 15*time.Second, "open the page", chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.ID("p")))
	if got := Value(t, ctx, 15*time.Second, "read the text", chromedp.Text(chromedp.ID("p"))); got != "hello" {
		t.Fatalf("text %q, want hello", got)
	}
	if got := Value(t, ctx, 15*time.Second, "read the title", chromedp.Evaluate[string](`document.title`)); got != "ran" {
		t.Fatalf("title %q: the page's script did not run", got)
	}
}
