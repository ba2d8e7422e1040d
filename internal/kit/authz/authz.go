// Package authz owns who may call what: the policy vocabulary every public
// operation declares (httpapi.Register records it and checks its coarse
// part — is the caller signed in, and in a role the operation admits —
// before any input is read), and the ownership helpers services use once
// they know whose data a request reaches.
//
// The answers are uniform across services:
//   - no verified caller where one is required: 401;
//   - a caller whose role the operation does not admit: 403;
//   - a caller refused by ownership (a patient reaching another patient's
//     profile or case): 404, the answer a missing resource gets, so that a
//     refusal never confirms that someone else's resource exists.
package authz

import (
	"fmt"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// Extension is the OpenAPI extension on every operation naming its
// policy, so the merged spec shows who may call what.
const Extension = "x-policy"

// Policy is who may call an operation. The zero value admits nobody.
type Policy struct {
	public bool
	roles  []authn.Role
	owned  bool
}

// Public admits everyone, anonymous callers included.
var Public = Policy{public: true}

// Roles admits verified callers in one of roles.
func Roles(roles ...authn.Role) Policy {
	return Policy{roles: slices.Clone(roles)}
}

// Owned marks that, beyond the roles, the application admits a patient
// only to their own data (checked with OwnerOrAdmin once the owner is
// known); it shows as ";owner" in the policy's name.
func (p Policy) Owned() Policy {
	p.owned = true
	return p
}

// String is the policy's name in the spec: "public", or
// "authenticated:patient,admin" with ";owner" when ownership applies.
func (p Policy) String() string {
	if p.public {
		return "public"
	}
	names := make([]string, len(p.roles))
	for i, r := range p.roles {
		names[i] = string(r)
	}
	s := "authenticated:" + strings.Join(names, ",")
	if p.owned {
		s += ";owner"
	}
	return s
}

// Parse reads a policy's name back, as tests of the spec do.
func Parse(s string) (Policy, error) {
	if s == "public" {
		return Public, nil
	}
	rest, ok := strings.CutPrefix(s, "authenticated:")
	if !ok {
		return Policy{}, fmt.Errorf("policy %q: neither public nor authenticated:<roles>", s)
	}
	rest, owned := strings.CutSuffix(rest, ";owner")
	var p Policy
	for r := range strings.SplitSeq(rest, ",") {
		switch role := authn.Role(r); role {
		case authn.RolePatient, authn.RoleProfessional, authn.RoleAdmin, authn.RoleService:
			p.roles = append(p.roles, role)
		default:
			return Policy{}, fmt.Errorf("policy %q: unknown role %q", s, r)
		}
	}
	p.owned = owned
	return p, nil
}

// IsPublic reports whether anonymous callers are admitted.
func (p Policy) IsPublic() bool { return p.public }

// IsOwned reports whether patients reach only their own data.
func (p Policy) IsOwned() bool { return p.owned }

// Admits reports whether the policy's roles include r.
func (p Policy) Admits(r authn.Role) bool { return p.public || slices.Contains(p.roles, r) }

// Check is the coarse decision for a caller: nil, 401 or 403.
func (p Policy) Check(who authn.Principal) error {
	switch {
	case p.public:
		return nil
	case who.Anonymous():
		return fault.Unauthenticated("sign in to use this operation")
	case !slices.Contains(p.roles, who.Role):
		return fault.Forbidden("this operation is not open to your role")
	}
	return nil
}

// Missing lists the operations of spec ("METHOD path") that declare no
// policy, so a service's test can refuse a route registered around
// Register.
func Missing(spec *huma.OpenAPI) []string {
	var out []string
	for path, item := range spec.Paths {
		for method, op := range map[string]*huma.Operation{"GET": item.Get, "PUT": item.Put, "POST": item.Post,
			"DELETE": item.Delete, "PATCH": item.Patch, "HEAD": item.Head, "OPTIONS": item.Options, "TRACE": item.Trace} {
			if op == nil {
				continue
			}
			if _, ok := op.Extensions[Extension].(string); !ok {
				out = append(out, method+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// OwnerOrAdmin admits an admin to anything and a patient to what ownerID
// owns; everyone else gets the 404 of a missing what (e.g. "case"), so
// the answer does not confirm the resource exists.
func OwnerOrAdmin(who authn.Principal, ownerID, what string) error {
	if IsAdmin(who) || (who.Role == authn.RolePatient && who.Subject != "" && who.Subject == ownerID) {
		return nil
	}
	return fault.NotFound(what)
}

// IsAdmin reports whether who acts as an admin.
func IsAdmin(who authn.Principal) bool { return !who.Anonymous() && who.Role == authn.RoleAdmin }

// Purpose is the audit purpose of an access by who: a patient's own
// "self-service", an admin's "administration", else who's role.
func Purpose(who authn.Principal) string {
	switch {
	case who.Anonymous():
		return ""
	case who.Role == authn.RolePatient:
		return "self-service"
	case who.Role == authn.RoleAdmin:
		return "administration"
	}
	return string(who.Role)
}
