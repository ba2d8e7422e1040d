package auth

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/clients/notification"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "auth"

// Module describes auth to the binary. It sends codes and reset tokens
// through notification; it consumes patient.erased, which takes the
// patient's login with it.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Platform,
	Requires: []string{notification.Target},
	Callers:  []rpc.Callers{rpcCallers},
	Summary:  "users, credentials, logins, tokens, sessions, second factors and the JWKS",
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
