package credentialing

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "credentialing"

// Module describes credentialing to the binary. It calls no other
// service: it learns professionals from professional.registered.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Professional,
	Summary:  "licences, their review by admins, professionals' standing and level, the expiry watch",
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
