package notifytest

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

// Text is an SMS the Twilio fake accepted.
type Text struct {
	To, From, Body string
}

// Twilio is a fake of Twilio's Messages API on 127.0.0.1: it accepts
// POST {URL}/2010-04-01/Accounts/{SID}/Messages.json with a form of To,
// From and Body and basic auth SID:Token, answering 201 as Twilio does,
// and refuses any other request shape (400, or 401 for credentials;
// counted by Rejected).
type Twilio struct {
	URL, SID, Token string

	mu       sync.Mutex
	texts    []Text
	rejected []string
	down     bool
	got      chan struct{}
}

// StartTwilio starts the fake, stopped when the test ends.
func StartTwilio(t testing.TB) *Twilio {
	t.Helper()
	f := &Twilio{SID: "AC" + strings.ToLower(rand.Text()), Token: rand.Text(), got: make(chan struct{}, 1)}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.Listener.Close()
	srv.Listener = testkit.Listen(t)
	srv.Start()
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// SetDown makes the fake answer 503 while down is true.
func (f *Twilio) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// Messages returns the accepted messages, in order.
func (f *Twilio) Messages() []Text {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Text(nil), f.texts...)
}

// Rejected returns why each request of the wrong shape was refused.
func (f *Twilio) Rejected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.rejected...)
}

// Wait returns the messages once there are at least n, failing the test
// when they do not come within timeout.
func (f *Twilio) Wait(t testing.TB, n int, timeout time.Duration) []Text {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if m := f.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-f.got:
		case <-deadline:
			t.Fatalf("Twilio fake: %d messages, want %d (rejected: %v)", len(f.Messages()), n, f.Rejected())
		}
	}
}

func (f *Twilio) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		http.Error(w, `{"code":20503,"message":"Service unavailable","status":503}`, http.StatusServiceUnavailable)
		return
	}
	if why := f.check(r); why != "" {
		f.mu.Lock()
		f.rejected = append(f.rejected, why)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if why == "basic auth" {
			// Twilio answers bad credentials 401 with its code 20003.
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"code":20003,"message":"Authenticate","status":401}`)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"code":21604,"message":%q,"status":400}`, why)
		return
	}
	m := Text{To: r.PostForm.Get("To"), From: r.PostForm.Get("From"), Body: r.PostForm.Get("Body")}
	f.mu.Lock()
	f.texts = append(f.texts, m)
	n := len(f.texts)
	f.mu.Unlock()
	select {
	case f.got <- struct{}{}:
	default:
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"sid":"SM%032d","account_sid":%q,"status":"queued"}`, n, f.SID)
}

// check says what is wrong with a request, "" for nothing.
func (f *Twilio) check(r *http.Request) string {
	if r.Method != http.MethodPost {
		return "method " + r.Method
	}
	if want := "/2010-04-01/Accounts/" + f.SID + "/Messages.json"; r.URL.Path != want {
		return "path " + r.URL.Path
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != f.SID || pass != f.Token {
		return "basic auth"
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return "content type " + r.Header.Get("Content-Type")
	}
	if err := r.ParseForm(); err != nil {
		return "form: " + err.Error()
	}
	for _, k := range []string{"To", "From", "Body"} {
		if r.PostForm.Get(k) == "" {
			return "missing " + k
		}
	}
	if !strings.HasPrefix(r.PostForm.Get("To"), "+") {
		return "To is not E.164"
	}
	return ""
}
