// Package events is the catalogue of the platform's event contracts: for
// every event type on the bus (topic medical-platform-events), its name,
// version, producing service and one Go payload type. The producer builds
// its events from the contract (Contract.New), every consumer decodes the
// same type (outbox.Handle), the AsyncAPI document /asyncapi.json is
// generated from it, and tests hold every emitted event to it (Check).
//
// Payloads carry ids, codes and times only — never a name, an email, a
// question or any other health data: a consumer that needs more asks the
// owning service over its internal API, where access is checked and
// audited. Adding a field is compatible; removing or changing one is a new
// Version, which consumers learn before producers emit it.
package events

import (
	"fmt"
	"slices"
	"strings"

	"github.com/secondopinion/platform/internal/kit/bus"
)

// All describes every contract, sorted by type.
func All() []bus.Description {
	out := slices.Clone(catalogue)
	slices.SortFunc(out, func(a, b bus.Description) int { return strings.Compare(a.Type, b.Type) })
	return out
}

// Lookup finds the contract of an event type.
func Lookup(typ string) (bus.Description, bool) {
	for _, d := range catalogue {
		if d.Type == typ {
			return d, true
		}
	}
	return bus.Description{}, false
}

// Check holds an emitted event to its contract: a type the catalogue does
// not know, or an event its contract does not describe, is an error.
func Check(e bus.Event) error {
	d, ok := Lookup(e.Type)
	if !ok {
		return fmt.Errorf("event %s of type %s has no contract in api/events", e.ID, e.Type)
	}
	return d.Check(e)
}
