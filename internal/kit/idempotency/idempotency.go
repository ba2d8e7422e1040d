// Package idempotency makes creating requests safe to retry: a POST or
// PATCH carrying an Idempotency-Key runs once per caller and key, and every
// retry with the same key and body gets the first response again. Records
// live in the service's own database (SQL: they survive a crash, and a run
// that died after committing is never run twice), in Redis when configured
// (shared by replicas), or in process memory (Memory, for tests).
package idempotency

import (
	"bytes"
	"context"
	"crypto/rand"
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

// inFlightTTL bounds how long a reservation of Memory or Redis blocks
// retries if the process dies before completing it. SQL renews a shorter
// lease instead while the request runs.
const inFlightTTL = 2 * time.Minute

// Record is the stored state of one key.
type Record struct {
	Fingerprint string `json:"fingerprint"` // SHA-256 of method, path and body
	// Token names the run of the request that reserved the key: a run
	// whose reservation was taken over can no longer complete or release
	// it.
	Token string `json:"token,omitempty"`
	Done  bool   `json:"done"`
	// Lost: the run committed changes in the service's store and died
	// before its answer was recorded. Running it again would repeat them,
	// and there is no answer to replay.
	Lost   bool        `json:"lost,omitempty"`
	Status int         `json:"status,omitempty"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body,omitempty"`
}

// Store keeps records. Reserve must be atomic across every replica that
// shares the store. Each store decides how long a reservation whose run
// died blocks retries; a completed record is replayed for TTL.
type Store interface {
	// Reserve stores rec under key unless the key is held or done; it
	// returns the existing record and false when it is.
	Reserve(ctx context.Context, key string, rec Record) (Record, bool, error)
	// Complete replaces the record of the key rec.Token reserved.
	Complete(ctx context.Context, key string, rec Record) error
	// Release forgets the key the run token reserved (its request failed,
	// or its answer is not to be kept), so that it may be retried.
	Release(ctx context.Context, key, token string) error
}

// errTakenOver is Complete's answer to a run whose reservation lapsed and
// was taken by another: its answer is not the key's any more.
var errTakenOver = errors.New("the reservation was taken over")

// holder is a Store kept beside the service's own state (SQL): hold
// returns the context the reserved run works under, which commits its
// transactions only while the run holds key and marks the key as having
// changed state, and keeps the reservation alive until end is called.
type holder interface {
	hold(ctx context.Context, key, token string) (_ context.Context, end func())
}

// Forward keeps no records: the middleware hands every request on as it
// came. It is the gateway's, whose upstreams keep the records of the
// requests they carry out, in the store where the effect is.
var Forward Store = forward{}

type forward struct{}

func (forward) Reserve(context.Context, string, Record) (Record, bool, error) {
	return Record{}, true, nil
}
func (forward) Complete(context.Context, string, Record) error { return nil }
func (forward) Release(context.Context, string, string) error  { return nil }

var validKey = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

// Middleware applies idempotency keys to POST and PATCH requests of
// service. It must run after authn.Middleware: keys are scoped to the
// verified caller, so one caller can never replay another's response.
func Middleware(service string, s Store, write func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if s == Forward {
			return next
		}
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
			token := rand.Text()
			prev, reserved, err := s.Reserve(r.Context(), scoped, Record{Fingerprint: fp, Token: token})
			if err != nil {
				write(w, r, fault.Unavailable("idempotency store", err))
				return
			}
			if !reserved {
				replay(w, r, prev, fp, write)
				return
			}

			rec := &recorder{ResponseWriter: w, status: http.StatusOK}
			// The context may be gone by the time the record is written:
			// write it on a fresh one.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
			defer cancel()
			settled := false
			defer func() {
				// A panicking request frees the key for a retry.
				if !settled {
					_ = s.Release(ctx, scoped, token)
				}
			}()
			run := r
			end := func() {}
			h, holds := s.(holder)
			if holds {
				var hctx context.Context
				hctx, end = h.hold(r.Context(), scoped, token)
				defer end()
				run = r.WithContext(hctx)
			}
			next.ServeHTTP(rec, run)
			end()
			switch {
			case rec.status >= 500 || rec.secret:
				// A failure may succeed on a retry; an answer its handler
				// marked no-store carries a secret (tokens, recovery
				// codes), which is never kept — a retry runs again.
				_ = s.Release(ctx, scoped, token)
			default:
				done := Record{Fingerprint: fp, Token: token, Done: true, Status: rec.status, Header: keep(w.Header()), Body: rec.body.Bytes()}
				// Unrecorded, the answer still goes out: the change is
				// made. A store that ties the changes to the key (SQL)
				// keeps it until its lease lapses, and then knows whether
				// a retry may run again; releasing it could repeat a
				// committed change.
				if err := s.Complete(ctx, scoped, done); err != nil && !holds {
					_ = s.Release(ctx, scoped, token)
				}
			}
			settled = true
			rec.send()
		})
	}
}

func replay(w http.ResponseWriter, r *http.Request, prev Record, fp string, write func(http.ResponseWriter, *http.Request, error)) {
	switch {
	case prev.Fingerprint != fp:
		write(w, r, &fault.Error{Kind: fault.KindInvalid, Title: "Idempotency-Key reused",
			Detail: "this key was used for a different request", Field: "header.Idempotency-Key"})
	case prev.Lost:
		write(w, r, &fault.Error{Kind: fault.KindConflict, Title: "Request already carried out",
			Detail: "a request with this Idempotency-Key was carried out, but its answer was lost in a restart: look the result up instead of retrying"})
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

// recorder holds the answer back until its record is written, so that an
// answer a client received is always the one a retry replays: a crash in
// between loses the answer for both. Keyed POST and PATCH handlers answer
// small documents and never flush.
type recorder struct {
	http.ResponseWriter
	status  int
	body    bytes.Buffer
	started bool // the handler began its answer: its status is set
	// secret: the handler marked its answer no-store. It is judged as the
	// answer starts, before the layers outside add their own headers:
	// httpapi marks every answer no-store on its way out.
	secret bool
}

func (r *recorder) start() {
	if !r.started {
		r.started = true
		r.secret = strings.Contains(r.Header().Get("Cache-Control"), "no-store")
	}
}

func (r *recorder) WriteHeader(code int) {
	if !r.started {
		r.status = code
	}
	r.start()
}

func (r *recorder) Write(b []byte) (int, error) {
	r.start()
	return r.body.Write(b)
}

// send writes the answer held back.
func (r *recorder) send() {
	r.ResponseWriter.WriteHeader(r.status)
	_, _ = r.ResponseWriter.Write(r.body.Bytes())
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
