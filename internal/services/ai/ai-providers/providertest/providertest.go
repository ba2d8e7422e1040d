// Package providertest holds fake AI provider APIs for tests: HTTP
// servers on a low local port that speak OpenAI's chat completions and
// Anthropic's Messages wire formats, answer from a script — a valid
// synthesis, a rate limit with Retry-After, a 5xx, a hang, a truncated
// body, malformed JSON, a refusal, a cut-off answer — and record every
// request they receive, so a test can read what left the process.
package providertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

// Wire is a provider API's wire format.
type Wire int

const (
	OpenAI    Wire = iota // POST …/chat/completions
	Anthropic             // POST /v1/messages
)

// Request is what the fake received.
type Request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// Reply answers one request.
type Reply func(w http.ResponseWriter, r *http.Request, body []byte)

// Server is a fake provider API.
type Server struct {
	URL  string // the base URL to configure the adapter with: http://host:port/v1/ (OpenAI), http://host:port/ (Anthropic)
	Wire Wire

	mu       sync.Mutex
	script   []Reply
	fallback Reply
	received []Request
}

// New starts a fake speaking wire on 127.0.0.1 below port 32768; it stops
// when the test ends. Until told otherwise it answers every request with
// a valid synthesis (Cite).
func New(t testing.TB, wire Wire) *Server {
	t.Helper()
	s := &Server{Wire: wire}
	s.fallback = s.Cite()
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.URL = "http://" + ln.Addr().String() + "/"
	if wire == OpenAI {
		s.URL += "v1/"
	}
	return s
}

// Then queues replies: the next requests get them in order, later ones the
// default reply.
func (s *Server) Then(replies ...Reply) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, replies...)
	return s
}

// Always sets the default reply.
func (s *Server) Always(r Reply) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fallback = r
	return s
}

// Requests returns what the fake received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.received...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.received = append(s.received, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	reply := s.fallback
	if len(s.script) > 0 {
		reply, s.script = s.script[0], s.script[1:]
	}
	s.mu.Unlock()
	want := "/v1/chat/completions"
	if s.Wire == Anthropic {
		want = "/v1/messages"
	}
	if r.Method != http.MethodPost || r.URL.Path != want {
		s.errorBody(w, http.StatusNotFound, "not_found_error", "no route "+r.Method+" "+r.URL.Path)
		return
	}
	reply(w, r, body)
}

// --- replies of both wire formats ---

// RateLimited answers 429 with Retry-After (seconds or an HTTP date; ""
// for none) and the provider's error body.
func (s *Server) RateLimited(retryAfter string) Reply {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		s.errorBody(w, http.StatusTooManyRequests, "rate_limit_error", "Rate limit reached for requests")
	}
}

// Status answers status with the provider's error body: 500, 503, 529
// (Anthropic's overloaded), 401, 400…
func (s *Server) Status(status int) Reply {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		kind := map[int]string{400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error", 529: "overloaded_error"}[status]
		if kind == "" {
			kind = "api_error"
		}
		s.errorBody(w, status, kind, "The server had an error while processing your request: "+strconv.Itoa(status))
	}
}

// Hang answers nothing for d, or until the client gives up.
func Hang(d time.Duration) Reply {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	}
}

// Raw answers status with body as it is: malformed JSON, HTML from a proxy…
func Raw(status int, contentType, body string) Reply {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// Truncated sends the headers and the first half of what next would send,
// with the full Content-Length, then drops the connection.
func Truncated(next Reply) Reply {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		next(rec, r, body)
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(rec.body)))
		w.WriteHeader(rec.status)
		w.Write(rec.body[:len(rec.body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler) // close the connection mid-body
	}
}

type recorder struct {
	header http.Header
	status int
	body   []byte
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(s int)           { r.status = s }
func (r *recorder) Write(b []byte) (int, error) { r.body = append(r.body, b...); return len(b), nil }

// Answer answers with content as the model's answer (any JSON value, or
// a string of text as the model wrote it), ending normally.
func (s *Server) Answer(content any) Reply {
	return s.answer(content, "")
}

// CutOff answers with content and the stop reason of an answer cut at the
// output token limit.
func (s *Server) CutOff(content any) Reply {
	if s.Wire == Anthropic {
		return s.answer(content, "max_tokens")
	}
	return s.answer(content, "length")
}

// Refusal answers with the model's refusal.
func (s *Server) Refusal() Reply {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if s.Wire == Anthropic {
			writeJSON(w, http.StatusOK, anthropicMessage([]any{map[string]any{"type": "text", "text": "I can't help with that."}}, "refusal"))
			return
		}
		writeJSON(w, http.StatusOK, openAICompletion(map[string]any{"role": "assistant", "content": nil, "refusal": "I can't help with that."}, "stop"))
	}
}

// TextOnly answers (Anthropic) with a text block and no tool use.
func (s *Server) TextOnly(text string) Reply {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSON(w, http.StatusOK, anthropicMessage([]any{map[string]any{"type": "text", "text": text}}, "end_turn"))
	}
}

// Cite answers with a valid synthesis of the case it received: a finding
// for the first passage of each document, citing it.
func (s *Server) Cite() Reply {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		in, err := s.caseOf(body)
		if err != nil {
			s.errorBody(w, http.StatusBadRequest, "invalid_request_error", err.Error())
			return
		}
		var findings []any
		for _, d := range in.Documents {
			p := d.Passages[0]
			findings = append(findings, map[string]any{
				"text":       "Finding of " + d.DocumentID,
				"confidence": 0.8,
				"citation":   map[string]any{"documentId": d.DocumentID, "page": p.Page, "start": p.Start, "end": p.End},
			})
		}
		s.answer(map[string]any{"summary": fmt.Sprintf("Synthesis of %d documents.", len(in.Documents)), "keyFindings": findings}, "")(w, r, body)
	}
}

// Case is the case JSON the adapters send as the user message.
type Case struct {
	CaseType  string `json:"caseType"`
	Specialty string `json:"specialty"`
	Language  string `json:"language"`
	Documents []struct {
		DocumentID string `json:"documentId"`
		Title      string `json:"title"`
		Passages   []struct {
			Page  int    `json:"page"`
			Start int    `json:"start"`
			End   int    `json:"end"`
			Kind  string `json:"kind"`
			Text  string `json:"text"`
		} `json:"passages"`
	} `json:"documents"`
}

// CaseOf reads the case out of a request the fake received.
func (s *Server) CaseOf(r Request) (Case, error) { return s.caseOf(r.Body) }

func (s *Server) caseOf(body []byte) (Case, error) {
	var c Case
	var user string
	if s.Wire == Anthropic {
		var req struct {
			Messages []struct {
				Content []struct {
					Text string `json:"text"`
				} `json:"content"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) == 0 || len(req.Messages[0].Content) == 0 {
			return c, fmt.Errorf("no user message")
		}
		user = req.Messages[0].Content[0].Text
	} else {
		var req struct {
			Messages []struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return c, fmt.Errorf("no messages")
		}
		for _, m := range req.Messages {
			if m.Role == "user" {
				user = m.Content
			}
		}
	}
	if err := json.Unmarshal([]byte(user), &c); err != nil || len(c.Documents) == 0 {
		return c, fmt.Errorf("the user message is not a case")
	}
	return c, nil
}

// Usage the fakes report.
const (
	InputTokens  = 1234
	OutputTokens = 321
	OpenAIModel  = "gpt-test-2026-01-01"
	ClaudeModel  = "claude-test-20260101"
)

func (s *Server) answer(content any, stop string) Reply {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if s.Wire == Anthropic {
			if stop == "" {
				stop = "tool_use"
			}
			block := map[string]any{"type": "tool_use", "id": "toolu_01", "name": "case_synthesis", "input": content}
			if text, ok := content.(string); ok { // a model that wrote text into the tool input is not JSON
				writeRaw(w, http.StatusOK, fmt.Sprintf(`{"id":"msg_01","type":"message","role":"assistant","model":%q,"content":[{"type":"tool_use","id":"toolu_01","name":"case_synthesis","input":%s}],"stop_reason":%q,"stop_sequence":null,"usage":{"input_tokens":%d,"output_tokens":%d}}`,
					ClaudeModel, text, stop, InputTokens, OutputTokens))
				return
			}
			writeJSON(w, http.StatusOK, anthropicMessage([]any{block}, stop))
			return
		}
		if stop == "" {
			stop = "stop"
		}
		text, ok := content.(string)
		if !ok {
			b, _ := json.Marshal(content)
			text = string(b)
		}
		writeJSON(w, http.StatusOK, openAICompletion(map[string]any{"role": "assistant", "content": text, "refusal": nil}, stop))
	}
}

func openAICompletion(message map[string]any, finish string) map[string]any {
	return map[string]any{
		"id": "chatcmpl-01", "object": "chat.completion", "created": 1767225600, "model": OpenAIModel,
		"choices": []any{map[string]any{"index": 0, "message": message, "finish_reason": finish, "logprobs": nil}},
		"usage":   map[string]any{"prompt_tokens": InputTokens, "completion_tokens": OutputTokens, "total_tokens": InputTokens + OutputTokens},
	}
}

func anthropicMessage(content []any, stop string) map[string]any {
	return map[string]any{
		"id": "msg_01", "type": "message", "role": "assistant", "model": ClaudeModel,
		"content": content, "stop_reason": stop, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": InputTokens, "output_tokens": OutputTokens},
	}
}

func (s *Server) errorBody(w http.ResponseWriter, status int, kind, msg string) {
	if s.Wire == Anthropic {
		writeJSON(w, status, map[string]any{"type": "error", "error": map[string]any{"type": kind, "message": msg}})
		return
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": kind, "param": nil, "code": kind}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	writeRaw(w, status, string(b))
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}
