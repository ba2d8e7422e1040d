package auth

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "auth"

// Module describes auth to the binary. It calls no other service and
// consumes no events.
var Module = service.Module{
	Name:    Name,
	Domain:  service.Platform,
	Summary: "users, credentials, logins, tokens, sessions, second factors and the JWKS",
	Migrate: Migrate,
	Routes:  func(api huma.API) { new(Service).routes(api) },
	Build:   service.Builds(New),
}
