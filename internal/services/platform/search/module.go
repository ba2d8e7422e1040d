package search

import (
	"github.com/danielgtaylor/huma/v2"

	casemanagement "github.com/secondopinion/platform/internal/clients/case-management"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name, and its consumer group on the bus.
const Name = "search"

// Module describes search to the binary. It reads the text of the cases
// it indexes from case-management, and consumes the events of cases,
// assignments, consents and erasures.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Platform,
	Summary:  "the full-text read model of cases (PostgreSQL tsvector + GIN and pg_trgm; SQLite FTS5), searched by patients, professionals and admins each within what they may see",
	Requires: []string{casemanagement.Target},
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
