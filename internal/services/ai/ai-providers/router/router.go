// Package router chooses the providers of a case synthesis and calls
// them: it applies the privacy gate (consent, allow-list,
// de-identification — see the domain package), walks the case's chain in
// order and fails over to the next provider when one fails, keeps a
// circuit breaker per provider and honours a provider's Retry-After, checks
// every answer (schema, citations) before accepting it, and counts every
// attempt in ai_provider_requests_total{provider,status}.
package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/secondopinion/platform/internal/services/ai/ai-providers/domain"
)

// Config configures the router.
type Config struct {
	Routing domain.Routing
	Breaker BreakerConfig
	// AttemptTimeout bounds one attempt, whatever the adapter's own
	// timeout; default 2 minutes.
	AttemptTimeout time.Duration
}

// BreakerConfig configures the circuit breaker of each provider.
type BreakerConfig struct {
	// Failures in a row that open the breaker; default 5.
	Failures uint32
	// OpenFor is how long an open breaker refuses calls before it lets a
	// trial through; default 30s.
	OpenFor time.Duration
	// Trials is how many calls a half-open breaker lets through; default 1.
	Trials uint32
}

func (c Config) withDefaults() Config {
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = 2 * time.Minute
	}
	if c.Breaker.Failures == 0 {
		c.Breaker.Failures = 5
	}
	if c.Breaker.OpenFor <= 0 {
		c.Breaker.OpenFor = 30 * time.Second
	}
	if c.Breaker.Trials == 0 {
		c.Breaker.Trials = 1
	}
	return c
}

// Deps are what the router is given.
type Deps struct {
	// Requests is ai_provider_requests_total{provider,status}
	// (telemetry.Metrics.AIRequests); nil counts nothing.
	Requests *prometheus.CounterVec
	// Log receives breaker state changes (names and states only); nil
	// logs nothing.
	Log *slog.Logger
	// Now is the clock of Retry-After waits; default time.Now.
	Now func() time.Time
}

// Router routes case syntheses to providers.
type Router struct {
	cfg       Config
	deps      Deps
	providers map[string]domain.Provider
	infos     map[string]domain.ProviderInfo
	order     []string
	breakers  map[string]*gobreaker.CircuitBreaker[attemptResult]

	mu         sync.Mutex
	coolingTil map[string]time.Time // provider → when its Retry-After ends
}

type attemptResult struct {
	answer domain.Answer
	reply  domain.Reply
}

// New builds a router over providers (unique names), checking that the
// routing names only known providers and no external provider outside
// the allow-list.
func New(cfg Config, providers []domain.Provider, deps Deps) (*Router, error) {
	r, err := build(cfg, providers, deps)
	if err != nil {
		return nil, err
	}
	if err := r.cfg.Routing.Validate(r.infos); err != nil {
		return nil, fmt.Errorf("ai providers: routing: %w", err)
	}
	return r, nil
}

// build is New without the routing's validation, so tests can reach the
// checks the router makes on every call.
func build(cfg Config, providers []domain.Provider, deps Deps) (*Router, error) {
	cfg = cfg.withDefaults()
	if deps.Now == nil {
		deps.Now = time.Now
	}
	r := &Router{
		cfg: cfg, deps: deps,
		providers:  map[string]domain.Provider{},
		infos:      map[string]domain.ProviderInfo{},
		breakers:   map[string]*gobreaker.CircuitBreaker[attemptResult]{},
		coolingTil: map[string]time.Time{},
	}
	for _, p := range providers {
		info := p.Info()
		if _, dup := r.providers[info.Name]; dup || info.Name == "" {
			return nil, fmt.Errorf("ai providers: provider name %q is empty or used twice", info.Name)
		}
		r.providers[info.Name], r.infos[info.Name] = p, info
		r.order = append(r.order, info.Name)
		r.breakers[info.Name] = gobreaker.NewCircuitBreaker[attemptResult](gobreaker.Settings{
			Name:        info.Name,
			MaxRequests: cfg.Breaker.Trials,
			Timeout:     cfg.Breaker.OpenFor,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= cfg.Breaker.Failures },
			// The caller giving up says nothing about the provider.
			IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
			OnStateChange: func(name string, from, to gobreaker.State) {
				if deps.Log != nil {
					deps.Log.Warn("ai provider circuit breaker", "provider", name, "from", from.String(), "to", to.String())
				}
			},
		})
	}
	return r, nil
}

// Synthesize answers req with the first provider of its chain that gives
// a valid answer. Before any call: an invalid request is ErrInvalidRequest,
// no AI_PROCESSING consent is ErrNoConsent, a chain with no allowed
// provider is ErrNotAllowed. An external provider gets only the
// de-identified view; its answer's citations are mapped back to the
// request's documents. When every provider fails the error is an
// *AllProvidersFailedError (ErrAllProvidersFailed) listing each attempt;
// when ctx ends, ctx's error.
func (r *Router) Synthesize(ctx context.Context, req domain.SynthesisRequest) (domain.Result, error) {
	req, err := req.Validate()
	if err != nil {
		return domain.Result{}, err
	}
	if !req.Consent.AIProcessing {
		return domain.Result{}, domain.ErrNoConsent
	}
	steps := r.cfg.Routing.Plan(req, r.infos)
	if !slices.ContainsFunc(steps, func(s domain.Step) bool { return s.Allowed }) {
		names := make([]string, len(steps))
		for i, s := range steps {
			names[i] = s.Provider
		}
		return domain.Result{}, fmt.Errorf("%w: none of %s may receive this case", domain.ErrNotAllowed, strings.Join(names, ", "))
	}

	var view *domain.Deidentified // built once, for the first external provider
	var attempts []domain.Attempt
	for _, step := range steps {
		name := step.Provider
		if !step.Allowed {
			attempts = r.record(attempts, domain.Attempt{Provider: name, Outcome: domain.NotAllowed,
				Err: &domain.ProviderError{Provider: name, Outcome: domain.NotAllowed, Err: domain.ErrNotAllowed}})
			continue
		}
		if wait := r.cooling(name); wait > 0 {
			attempts = r.record(attempts, domain.Attempt{Provider: name, Outcome: domain.RateLimited,
				Err: &domain.ProviderError{Provider: name, Outcome: domain.RateLimited, RetryAfter: wait, Err: errors.New("still within its Retry-After")}})
			continue
		}
		info, p := r.infos[name], r.providers[name]
		input, redactions := req, domain.Counts(nil)
		if info.External {
			if view == nil {
				d := domain.Deidentify(req)
				view = &d
			}
			input, redactions = view.Request, view.Counts
		}

		start := r.deps.Now()
		res, err := r.breakers[name].Execute(func() (attemptResult, error) {
			actx, cancel := context.WithTimeout(ctx, r.cfg.AttemptTimeout)
			defer cancel()
			reply, err := p.Synthesize(actx, input)
			if err != nil {
				return attemptResult{}, err
			}
			ans, err := domain.ParseAnswer(input, reply.Answer)
			if err != nil {
				return attemptResult{}, &domain.ProviderError{Provider: name, Outcome: domain.Malformed, Err: err}
			}
			return attemptResult{answer: ans, reply: reply}, nil
		})
		latency := r.deps.Now().Sub(start)

		if err == nil {
			attempts = r.record(attempts, domain.Attempt{Provider: name, Outcome: domain.Success, Latency: latency})
			ans := res.answer
			if info.External {
				ans = view.Restore(ans)
			}
			model := res.reply.Model
			if model == "" {
				model = info.Model
			}
			return domain.Result{
				Answer:     ans,
				Usage:      domain.Usage{Provider: name, Model: model, InputTokens: res.reply.InputTokens, OutputTokens: res.reply.OutputTokens, Latency: latency},
				Attempts:   attempts,
				Redactions: redactions,
			}, nil
		}
		if ctx.Err() != nil { // the caller gave up: no failover
			r.record(attempts, domain.Attempt{Provider: name, Outcome: domain.Canceled, Latency: latency, Err: ctx.Err()})
			return domain.Result{}, ctx.Err()
		}
		pe := classify(name, err)
		if pe.Outcome == domain.RateLimited && pe.RetryAfter > 0 {
			r.coolUntil(name, r.deps.Now().Add(pe.RetryAfter))
		}
		attempts = r.record(attempts, domain.Attempt{Provider: name, Outcome: pe.Outcome, Latency: latency, Err: pe})
	}
	return domain.Result{}, &domain.AllProvidersFailedError{Attempts: attempts}
}

// classify makes any failure of an attempt a *ProviderError.
func classify(name string, err error) *domain.ProviderError {
	var pe *domain.ProviderError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
		return &domain.ProviderError{Provider: name, Outcome: domain.CircuitOpen, Err: domain.ErrCircuitOpen}
	case errors.Is(err, context.DeadlineExceeded):
		return &domain.ProviderError{Provider: name, Outcome: domain.Timeout, Err: errors.New("no answer in time")}
	case errors.Is(err, domain.ErrInvalidRequest):
		return &domain.ProviderError{Provider: name, Outcome: domain.ClientError, Err: err}
	}
	return &domain.ProviderError{Provider: name, Outcome: domain.Unreachable, Err: err}
}

// record appends a and counts it.
func (r *Router) record(attempts []domain.Attempt, a domain.Attempt) []domain.Attempt {
	if r.deps.Requests != nil {
		r.deps.Requests.WithLabelValues(a.Provider, string(a.Outcome)).Inc()
	}
	return append(attempts, a)
}

func (r *Router) cooling(name string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return max(r.coolingTil[name].Sub(r.deps.Now()), 0)
}

func (r *Router) coolUntil(name string, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.After(r.coolingTil[name]) {
		r.coolingTil[name] = t
	}
}

// ProviderStatus is what GET /api/v1/ai/providers shows of a provider.
type ProviderStatus struct {
	Name     string      `json:"name"`
	Kind     domain.Kind `json:"kind"`
	Model    string      `json:"model"`
	External bool        `json:"external"`
	// Allowed: in-process, or on the allow-list.
	Allowed bool `json:"allowed"`
	// Breaker is "closed", "half-open" or "open".
	Breaker string `json:"breaker"`
	// RetryAfter is how long the provider still asked us to wait; 0 when
	// it did not.
	RetryAfter time.Duration `json:"retryAfter"`
}

// Providers lists the providers in the order they were given.
func (r *Router) Providers() []ProviderStatus {
	out := make([]ProviderStatus, 0, len(r.order))
	for _, name := range r.order {
		info := r.infos[name]
		out = append(out, ProviderStatus{
			Name: name, Kind: info.Kind, Model: info.Model, External: info.External,
			Allowed:    !info.External || slices.Contains(r.cfg.Routing.AllowList, name),
			Breaker:    r.breakers[name].State().String(),
			RetryAfter: r.cooling(name),
		})
	}
	return out
}

// Routing is the routing the router follows.
func (r *Router) Routing() domain.Routing { return r.cfg.Routing }
