package authz_test

import (
	"testing"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
)

func TestPolicyNames(t *testing.T) {
	for _, p := range []authz.Policy{authz.Public, authz.Roles(authn.RoleAdmin),
		authz.Roles(authn.RolePatient, authn.RoleAdmin).Owned()} {
		back, err := authz.Parse(p.String())
		if err != nil || back.String() != p.String() {
			t.Errorf("%s parsed back as %s, %v", p, back, err)
		}
	}
	if s := authz.Roles(authn.RolePatient, authn.RoleAdmin).Owned().String(); s != "authenticated:patient,admin;owner" {
		t.Errorf("name %q", s)
	}
	for _, bad := range []string{"", "everyone", "authenticated:", "authenticated:patient,root"} {
		if _, err := authz.Parse(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestOwnerOrAdmin(t *testing.T) {
	for _, c := range []struct {
		who  authn.Principal
		want int // 0 admitted, else the status
	}{
		{authn.Principal{Subject: "p1", Role: authn.RolePatient}, 0},
		{authn.Principal{Subject: "x", Role: authn.RoleAdmin}, 0},
		{authn.Principal{Subject: "p2", Role: authn.RolePatient}, 404},
		{authn.Principal{Subject: "p1", Role: authn.RoleProfessional}, 404},
		{authn.Principal{Subject: "p1", Role: authn.RoleService}, 404},
		{authn.Principal{}, 404},
	} {
		err := authz.OwnerOrAdmin(c.who, "p1", "case")
		if (err == nil) != (c.want == 0) || (err != nil && httpapi.StatusOf(err) != c.want) {
			t.Errorf("%+v: %v", c.who, err)
		}
	}
	if err := authz.OwnerOrAdmin(authn.Principal{Role: authn.RolePatient}, "", "case"); err == nil {
		t.Error("an anonymous patient owns what has no owner")
	}
}
