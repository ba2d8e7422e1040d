package professionalidentity

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/clients/auth"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "professional-identity"

// Module describes professional-identity to the binary.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Professional,
	Summary:  "professional registration, PRO numbers and profiles, with level and standing as credentialing says",
	Requires: []string{auth.Target},
	Callers:  []rpc.Callers{rpcCallers},
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
