package notification

import (
	"github.com/danielgtaylor/huma/v2"

	patientidentity "github.com/secondopinion/platform/internal/clients/patient-identity"
	professionalidentity "github.com/secondopinion/platform/internal/clients/professional-identity"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the target's name, and its consumer group on the bus.
const Name = "notification"

// Module describes notification to the binary. It looks up patients and
// professionals when it sends them a message, consumes the domain events
// it tells people of (and patient.erased and case.erased, which take
// their notices with them), and serves NotificationService to auth.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Platform,
	Summary:  "tells patients, professionals and admins what they need to know: email, SMS and in-app, with a delivery log",
	Requires: []string{patientidentity.Target, professionalidentity.Target},
	Callers:  []rpc.Callers{rpcCallers},
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
