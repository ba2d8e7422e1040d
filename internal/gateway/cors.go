package gateway

import (
	"net/http"
	"slices"
)

const (
	corsMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
	corsHeaders = "Authorization, Content-Type, Idempotency-Key, X-Request-ID"
	corsMaxAge  = "600"
)

// cors lets browsers on the configured origins call the API. Origins match
// exactly; "*" only when configured. A disallowed origin gets no CORS
// headers, so the browser refuses the response. Preflights end here: they
// carry no credentials and no service needs to see them.
func (g *Gateway) cors(next http.Handler) http.Handler {
	wildcard := slices.Contains(g.cfg.CORSOrigins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
		h := w.Header()
		if origin != "" && !wildcard {
			h.Add("Vary", "Origin")
		}
		allowed := origin != "" && (wildcard || slices.Contains(g.cfg.CORSOrigins, origin))
		if allowed {
			if wildcard {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
			}
			h.Set("Access-Control-Expose-Headers", "X-Request-ID")
		}
		if !preflight {
			next.ServeHTTP(w, r)
			return
		}
		if allowed {
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
