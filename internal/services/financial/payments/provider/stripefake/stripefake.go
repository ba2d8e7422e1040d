// Package stripefake is a local server speaking the part of Stripe's API
// that payments uses, for tests: form-encoded PaymentIntents (create with
// confirm, confirm, cancel, retrieve, list) and refunds, Idempotency-Key replay,
// Stripe's error objects with decline codes, and Stripe's test payment
// methods. It also signs webhook events as Stripe does. It is never part
// of the binary.
package stripefake

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"
)

// Key is the secret key the server accepts.
const Key = "sk_test_fake"

// Server is the fake Stripe.
type Server struct {
	mu      sync.Mutex
	intents map[string]map[string]any
	order   []string
	refunds map[string]map[string]any
	idem    map[string]stored // by key
	now     func() time.Time
	// Creates counts the intents created (charges attempted).
	creates int
}

type stored struct {
	fingerprint string
	status      int
	body        []byte
}

// New returns an empty server; serve it with httptest or testkit.Listen.
func New() *Server {
	return &Server{intents: map[string]map[string]any{}, refunds: map[string]map[string]any{}, idem: map[string]stored{},
		now: time.Now}
}

// Creates is how many intents were created.
func (s *Server) Creates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creates
}

// Intent is a copy of intent id as the server keeps it.
func (s *Server) Intent(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.intents[id])
}

// RefundOutside refunds amount of intent id as the Stripe dashboard
// would: behind payments' back.
func (s *Server) RefundOutside(id string, amount int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.intents[id]["latest_charge"].(map[string]any)
	ch["amount_refunded"] = ch["amount_refunded"].(int64) + amount
	ch["refunded"] = ch["amount_refunded"].(int64) >= ch["amount"].(int64)
}

// SetStatus forces intent id's status (a state the provider reached
// without payments knowing, for reconciliation tests).
func (s *Server) SetStatus(id, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.intents[id]["status"] = status
}

// Charge is the charge object of intent id, as charge.refunded carries it.
func (s *Server) Charge(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.intents[id]["latest_charge"].(map[string]any))
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// Sign makes a webhook delivery of an event as Stripe sends it: the
// payload and its Stripe-Signature header.
func Sign(secret, eventID, typ string, object map[string]any) (payload []byte, header string) {
	body, _ := json.Marshal(map[string]any{"id": eventID, "object": "event", "type": typ,
		"api_version": "2025-06-30.basil", "created": time.Now().Unix(), "data": map[string]any{"object": object}})
	p := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret})
	return p.Payload, p.Header
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+Key {
		writeErr(w, http.StatusUnauthorized, "invalid_request_error", "", "", "", "Invalid API Key provided", nil)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeErr(w, http.StatusBadRequest, "invalid_request_error", "", "", "", "bad form", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := r.Header.Get("Idempotency-Key")
	if r.Method == http.MethodPost && key != "" {
		fp := r.URL.Path + "?" + fingerprint(r.PostForm)
		if prev, ok := s.idem[key]; ok {
			if prev.fingerprint != fp {
				writeErr(w, http.StatusBadRequest, "idempotency_error", "", "", "",
					"Keys for idempotent requests can only be used with the same parameters they were first used with.", nil)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(prev.status)
			_, _ = w.Write(prev.body)
			return
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		s.route(rec, r)
		if rec.status < 500 {
			s.idem[key] = stored{fingerprint: fp, status: rec.status, body: rec.body}
		}
		return
	}
	s.route(w, r)
}

type recorder struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (r *recorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }
func (r *recorder) Write(b []byte) (int, error) {
	r.body = append(r.body, b...)
	return r.ResponseWriter.Write(b)
}

func fingerprint(f url.Values) string {
	var keys []string
	for k := range f {
		if !strings.HasPrefix(k, "expand") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + strings.Join(f[k], ",") + "&")
	}
	return b.String()
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	parts := strings.Split(path, "/")
	switch {
	case r.Method == http.MethodPost && path == "payment_intents":
		s.create(w, r)
	case r.Method == http.MethodGet && path == "payment_intents":
		s.list(w, r)
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "payment_intents":
		s.get(w, parts[1])
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "payment_intents" && parts[2] == "confirm":
		s.confirm(w, parts[1])
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "payment_intents" && parts[2] == "cancel":
		s.cancel(w, r, parts[1])
	case r.Method == http.MethodPost && path == "refunds":
		s.refund(w, r)
	default:
		writeErr(w, http.StatusNotFound, "invalid_request_error", "", "", "", "Unrecognized request URL", nil)
	}
}

func newID(prefix string) string { return prefix + strings.ToLower(rand.Text())[:24] }

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	amount, err := strconv.ParseInt(f.Get("amount"), 10, 64)
	if err != nil || amount <= 0 {
		writeErr(w, http.StatusBadRequest, "invalid_request_error", "parameter_invalid_integer", "", "amount", "Invalid integer", nil)
		return
	}
	pm := f.Get("payment_method")
	var status, code, decline string
	switch pm {
	case "pm_card_visa":
		status = "succeeded"
	case "pm_card_chargeDeclined":
		status, code, decline = "requires_payment_method", "card_declined", "generic_decline"
	case "pm_card_chargeDeclinedInsufficientFunds":
		status, code, decline = "requires_payment_method", "card_declined", "insufficient_funds"
	case "pm_card_threeDSecure2Required":
		status = "requires_action"
	default:
		writeErr(w, http.StatusBadRequest, "invalid_request_error", "resource_missing", "", "payment_method",
			"No such PaymentMethod: '"+pm+"'", nil)
		return
	}
	if f.Get("confirm") != "true" {
		status = "requires_confirmation"
	}
	s.creates++
	id := newID("pi_")
	meta := map[string]any{}
	for k, v := range f {
		if name, ok := strings.CutPrefix(k, "metadata["); ok {
			meta[strings.TrimSuffix(name, "]")] = v[0]
		}
	}
	pi := map[string]any{"id": id, "object": "payment_intent", "amount": amount, "currency": f.Get("currency"),
		"status": status, "client_secret": id + "_secret_" + strings.ToLower(rand.Text())[:12],
		"created": s.now().Unix(), "metadata": meta, "payment_method": pm,
		"latest_charge": map[string]any{"id": newID("ch_"), "object": "charge", "amount": amount, "amount_refunded": int64(0),
			"currency": f.Get("currency"), "payment_intent": id, "refunded": false, "paid": status == "succeeded"}}
	if status == "requires_action" {
		pi["next_action"] = map[string]any{"type": "use_stripe_sdk", "use_stripe_sdk": map[string]any{"type": "three_d_secure_redirect"}}
	}
	s.intents[id] = pi
	s.order = append(s.order, id)
	if code != "" {
		lpe := map[string]any{"type": "card_error", "code": code, "decline_code": decline, "message": "Your card was declined."}
		pi["last_payment_error"] = lpe
		writeErr(w, http.StatusPaymentRequired, "card_error", code, decline, "", "Your card was declined.", pi)
		return
	}
	writeJSON(w, http.StatusOK, pi)
}

func (s *Server) get(w http.ResponseWriter, id string) {
	pi, ok := s.intents[id]
	if !ok {
		writeErr(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "", "id", "No such payment_intent: '"+id+"'", nil)
		return
	}
	writeJSON(w, http.StatusOK, pi)
}

func (s *Server) confirm(w http.ResponseWriter, id string) {
	pi, ok := s.intents[id]
	if !ok {
		writeErr(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "", "id", "No such payment_intent", nil)
		return
	}
	switch pi["status"] {
	case "requires_action", "requires_confirmation":
		pi["status"] = "succeeded"
		delete(pi, "next_action")
		pi["latest_charge"].(map[string]any)["paid"] = true
	default:
		writeErr(w, http.StatusBadRequest, "invalid_request_error", "payment_intent_unexpected_state", "", "",
			"This PaymentIntent's status is "+pi["status"].(string)+" and cannot be confirmed.", pi)
		return
	}
	writeJSON(w, http.StatusOK, pi)
}

// cancel is POST /v1/payment_intents/{id}/cancel: Stripe cancels an
// intent in requires_payment_method, requires_capture,
// requires_confirmation, requires_action or processing, and refuses any
// other (succeeded, canceled) with payment_intent_unexpected_state.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request, id string) {
	pi, ok := s.intents[id]
	if !ok {
		writeErr(w, http.StatusNotFound, "invalid_request_error", "resource_missing", "", "id", "No such payment_intent: '"+id+"'", nil)
		return
	}
	switch pi["status"] {
	case "requires_payment_method", "requires_capture", "requires_confirmation", "requires_action", "processing":
		pi["status"] = "canceled"
		pi["canceled_at"] = s.now().Unix()
		pi["cancellation_reason"] = r.PostForm.Get("cancellation_reason")
		delete(pi, "next_action")
	default:
		writeErr(w, http.StatusBadRequest, "invalid_request_error", "payment_intent_unexpected_state", "", "",
			"You cannot cancel this PaymentIntent because it has a status of "+pi["status"].(string)+". Only a PaymentIntent "+
				"with one of the following statuses may be canceled: requires_payment_method, requires_capture, "+
				"requires_confirmation, requires_action, processing.", pi)
		return
	}
	writeJSON(w, http.StatusOK, pi)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	gte, _ := strconv.ParseInt(r.URL.Query().Get("created[gte]"), 10, 64)
	data := []any{}
	for i := len(s.order) - 1; i >= 0; i-- {
		pi := s.intents[s.order[i]]
		if pi["created"].(int64) >= gte {
			data = append(data, pi)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "url": "/v1/payment_intents", "has_more": false, "data": data})
}

func (s *Server) refund(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	pi, ok := s.intents[f.Get("payment_intent")]
	if !ok {
		writeErr(w, http.StatusBadRequest, "invalid_request_error", "resource_missing", "", "payment_intent", "No such payment_intent", nil)
		return
	}
	ch := pi["latest_charge"].(map[string]any)
	left := ch["amount"].(int64) - ch["amount_refunded"].(int64)
	amount := left
	if a := f.Get("amount"); a != "" {
		amount, _ = strconv.ParseInt(a, 10, 64)
	}
	switch {
	case pi["status"] != "succeeded":
		writeErr(w, http.StatusBadRequest, "invalid_request_error", "charge_not_refundable", "", "", "This charge cannot be refunded.", nil)
		return
	case amount <= 0 || amount > left:
		writeErr(w, http.StatusBadRequest, "invalid_request_error", "amount_too_large", "", "amount",
			fmt.Sprintf("Refund amount (%d) is greater than unrefunded amount on charge (%d)", amount, left), nil)
		return
	}
	ch["amount_refunded"] = ch["amount_refunded"].(int64) + amount
	ch["refunded"] = ch["amount_refunded"].(int64) >= ch["amount"].(int64)
	meta := map[string]any{}
	if id := f.Get("metadata[refund_id]"); id != "" {
		meta["refund_id"] = id
	}
	re := map[string]any{"id": newID("re_"), "object": "refund", "amount": amount, "currency": pi["currency"],
		"payment_intent": pi["id"], "charge": ch["id"], "status": "succeeded", "metadata": meta}
	s.refunds[re["id"].(string)] = re
	writeJSON(w, http.StatusOK, re)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, typ, code, decline, param, msg string, pi map[string]any) {
	e := map[string]any{"type": typ, "message": msg}
	if code != "" {
		e["code"] = code
	}
	if decline != "" {
		e["decline_code"] = decline
	}
	if param != "" {
		e["param"] = param
	}
	if pi != nil {
		e["payment_intent"] = pi
	}
	writeJSON(w, status, map[string]any{"error": e})
}
