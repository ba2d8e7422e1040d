package httpapi

import (
	"context"
	"net/http"
	"slices"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/idempotency"
)

// Register is how every public operation is declared, once, in its
// service: huma.Register plus
//   - the policy, recorded as the operation's x-policy and checked before
//     the input is read, so a refused caller learns nothing from validation;
//   - the bearer security requirement of every non-public operation;
//   - the error responses the operation can give, each a problem document:
//     those that follow from its policy and input (401, 403, 404, 400, 413,
//     415, 422, 500, 503), Idempotency-Key's on a POST or PATCH (409, 422),
//     and those the service lists in op.Errors (409, 429, …);
//   - faults answered as problems, the field at fault located in the
//     request (a parameter by its name, anything else in the body);
//   - input that is not text (NUL, invalid UTF-8, unpaired surrogates) in
//     a parameter or a JSON body refused with 422 naming the field, before
//     the handler, so no store ever sees it (text.go).
func Register[I, O any](api huma.API, op huma.Operation, p authz.Policy, handler func(context.Context, *I) (*O, error)) {
	if op.Extensions == nil {
		op.Extensions = map[string]any{}
	}
	op.Extensions[authz.Extension] = p.String()
	if !p.IsPublic() {
		op.Security = []map[string][]string{{SecurityScheme: {}}}
	}
	in := inputOf[I]()
	if creating(op.Method) {
		op.Parameters = append(op.Parameters, &huma.Param{Name: idempotency.Header, In: "header",
			Description: "makes a retry safe: the first response is replayed for 24 hours",
			Schema:      &huma.Schema{Type: huma.TypeString, MinLength: ptr(1), MaxLength: ptr(255)}})
	}
	op.Errors = errorsOf(op, p, in)
	text := textCheckOf(in)
	op.Middlewares = append(op.Middlewares, func(hctx huma.Context, next func(huma.Context)) {
		if err := p.Check(authn.FromContext(hctx.Context())); err != nil {
			_ = huma.WriteErr(api, hctx, StatusOf(err), "", problemFor(hctx.Context(), err, nil))
			return
		}
		next(text.watch(hctx))
	})
	where := in.locator()
	huma.Register(api, op, func(ctx context.Context, input *I) (*O, error) {
		if err := checkText(ctx); err != nil {
			return nil, err
		}
		out, err := handler(ctx, input)
		if err != nil {
			return nil, problemFor(ctx, err, where)
		}
		return out, nil
	})
}

func ptr[T any](v T) *T { return &v }

func creating(method string) bool { return method == http.MethodPost || method == http.MethodPatch }

// errorsOf lists the statuses op can answer with besides its successes.
func errorsOf(op huma.Operation, p authz.Policy, in input) []int {
	out := slices.Clone(op.Errors)
	add := func(statuses ...int) { out = append(out, statuses...) }
	// A bad or stale bearer token is refused on any route, public or not.
	add(http.StatusUnauthorized, http.StatusInternalServerError, http.StatusServiceUnavailable)
	if !p.IsPublic() {
		add(http.StatusForbidden)
	}
	if in.path || p.IsOwned() {
		add(http.StatusNotFound)
	}
	if in.path || in.query || in.header || in.body {
		add(http.StatusUnprocessableEntity)
	}
	if in.body {
		add(http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
	}
	if creating(op.Method) {
		add(http.StatusConflict, http.StatusUnprocessableEntity)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
