package httpapi

import "net/http"

// private marks every answer of the chain as one no cache may keep, unless
// its handler chose its caching (the JWKS and the published documents are
// public): answers carry health data, profiles, tokens — and which do is a
// matter of each operation, so the safe default is everywhere. Every answer
// also forbids content sniffing, so a browser never runs a JSON or PDF
// answer as a page.
//
// The headers are added as the answer starts, outside the idempotency
// middleware, which judges whether an answer is a secret by what its
// handler set (idempotency.Middleware); replayed answers get them too.
func private(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &privateWriter{ResponseWriter: w}
		next.ServeHTTP(pw, r)
		// An answer its handler never wrote is sent from the header map
		// once the handler returns.
		pw.start()
	})
}

type privateWriter struct {
	http.ResponseWriter
	started bool
}

func (p *privateWriter) start() {
	if p.started {
		return
	}
	p.started = true
	h := p.ResponseWriter.Header()
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	h.Set("X-Content-Type-Options", "nosniff")
}

func (p *privateWriter) WriteHeader(code int) {
	p.start()
	p.ResponseWriter.WriteHeader(code)
}

func (p *privateWriter) Write(b []byte) (int, error) {
	p.start()
	return p.ResponseWriter.Write(b)
}

// Flush may start an answer (gRPC streams, proxied downloads).
func (p *privateWriter) Flush() {
	p.start()
	if f, ok := p.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach deadlines beneath.
func (p *privateWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
