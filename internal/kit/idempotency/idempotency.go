// Package idempotency makes creating requests safe to retry: a POST or
// PATCH carrying an Idempotency-Key runs once per caller and key, and every
// retry with the same key and body gets the first response again. Records
// live in Redis when configured (shared by replicas) or in process memory
// in the embedded mode.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// Header is the request header naming the key.
const Header = "Idempotency-Key"

// TTL is how long a completed response is replayed.
const TTL = 24 * time.Hour

// inFlightTTL bounds how long a reservation blocks retries if the process
// dies before completing it.
const inFlightTTL = 2 * time.Minute

// Record is the stored state of one key.
type Record struct {
	Fingerprint string      `json:"fingerprint"` // SHA-256 of method, path and body
	Done        bool        `json:"done"`
	Status      int         `json:"status,omitempty"`
	Header      http.Header `json:"header,omitempty"`
	Body        []byte      `json:"body,omitempty"`
}

// Store keeps records. Reserve must be atomic across every replica that
// shares the store.
type Store interface {
	// Reserve stores rec under key unless the key exists; it returns the
	// existing record and false when it does.
	Reserve(ctx context.Context, key string, rec Record, ttl time.Duration) (Record, bool, error)
	// Complete replaces the record of a reserved key.
	Complete(ctx context.Context, key string, rec Record, ttl time.Duration) error
	// Release forgets a key whose request failed, so it may be retried.
	Release(ctx context.Context, key string) error
}

var validKey = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

// Middleware applies idempotency keys to POST and PATCH requests of
// service. It must run after authn.Middleware: keys are scoped to the
// verified caller, so one caller can never replay another's response.
func Middleware(service string, s Store, write func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := r.Header.Get(Header)
			if key == "" || (r.Method != http.MethodPost && r.Method != http.MethodPatch) {
				next.ServeHTTP(w, r)
				return
			}
			if !validKey.MatchString(key) {
				write(w, r, fault.Invalid("header.Idempotency-Key", "must be 1 to 255 visible ASCII characters"))
				return
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				var tooLarge *http.MaxBytesError
				if errors.As(err, &tooLarge) {
					write(w, r, &fault.Error{Kind: fault.KindTooLarge, Title: "Request body too large"})
					return
				}
				write(w, r, fault.Invalid("body", "could not read the request body"))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))

			p := authn.FromContext(r.Context())
			scoped := strings.Join([]string{"idem", service, string(p.Role), p.Subject, key}, ":")
			fp := fingerprint(r.Method, r.URL.Path, body)
			prev, reserved, err := s.Reserve(r.Context(), scoped, Record{Fingerprint: fp}, inFlightTTL)
			if err != nil {
				write(w, r, fault.Unavailable("idempotency store", err))
				return
			}
			if !reserved {
				replay(w, r, prev, fp, write)
				return
			}

			rec := &recorder{ResponseWriter: w, status: http.StatusOK}
			completed := false
			defer func() {
				// A failed or panicking request frees the key for a retry;
				// the context may be gone, so release on a fresh one.
				if !completed {
					ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
					defer cancel()
					_ = s.Release(ctx, scoped)
				}
			}()
			next.ServeHTTP(rec, r)
			// A failure may succeed on a retry; an answer marked no-store
			// carries a secret (tokens, recovery codes), which is never
			// kept — a retry runs again.
			if rec.status >= 500 || strings.Contains(w.Header().Get("Cache-Control"), "no-store") {
				return
			}
			done := Record{Fingerprint: fp, Done: true, Status: rec.status, Header: keep(w.Header()), Body: rec.body.Bytes()}
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
			defer cancel()
			completed = s.Complete(ctx, scoped, done, TTL) == nil
		})
	}
}

func replay(w http.ResponseWriter, r *http.Request, prev Record, fp string, write func(http.ResponseWriter, *http.Request, error)) {
	switch {
	case prev.Fingerprint != fp:
		write(w, r, &fault.Error{Kind: fault.KindInvalid, Title: "Idempotency-Key reused",
			Detail: "this key was used for a different request", Field: "header.Idempotency-Key"})
	case !prev.Done:
		write(w, r, &fault.Error{Kind: fault.KindConflict, Title: "Request in progress",
			Detail: "a request with this Idempotency-Key is still being processed", RetryAfter: time.Second})
	default:
		for k, v := range prev.Header {
			w.Header()[k] = v
		}
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(prev.Status)
		_, _ = w.Write(prev.Body)
	}
}

func fingerprint(method, path string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method + " " + path + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// keep selects the response headers worth replaying.
func keep(h http.Header) http.Header {
	out := http.Header{}
	for _, k := range []string{"Content-Type", "Location", "Content-Language"} {
		if v := h.Values(k); len(v) > 0 {
			out[k] = v
		}
	}
	return out
}

type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
