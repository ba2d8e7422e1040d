package patientconsent

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/export"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/domain"
)

// exportedConsents is consents.json in the patient's bundle: their
// consents as they read them (GET /api/v1/consents), every change that
// led there, oldest first, and the texts the changes name as far as they
// are still in force (the service keeps no text but the current one).
type exportedConsents struct {
	PatientConsents
	History []exportedChange `json:"history"`
	Texts   []ConsentText    `json:"texts"`
}

// exportedChange is one grant or withdrawal of a consent, as recorded:
// the revision counts the purpose's changes from 1, the version is the
// text granted (or the grant's text that was withdrawn), the client's
// address is where the request that made it came from.
type exportedChange struct {
	Purpose    vocab.ConsentPurpose `json:"purpose"`
	Revision   int                  `json:"revision"`
	Change     domain.Kind          `json:"change"`
	Version    string               `json:"version"`
	ChangedAt  time.Time            `json:"changedAt"`
	ClientAddr string               `json:"clientAddr"`
}

// exportConsents writes patient's share of their bundle (GDPR Art. 20):
// consents.json. It reads the store rather than the read path, which an
// admin's read would audit: patient-identity has audited the export.
func (s *Service) exportConsents(ctx context.Context, patient string, w *export.Writer) error {
	history, err := s.store.History(ctx, nil, patient)
	if err != nil {
		return err
	}
	states := fold(history)
	out := exportedConsents{PatientConsents: PatientConsents{PatientID: patient, Consents: []Consent{}},
		History: []exportedChange{}, Texts: []ConsentText{}}
	for _, p := range vocab.ConsentPurposes {
		out.Consents = append(out.Consents, toConsent(states[p]))
	}
	named := map[vocab.ConsentPurpose]map[string]bool{}
	for _, c := range history {
		out.History = append(out.History, exportedChange{Purpose: c.Purpose, Revision: c.Revision, Change: c.Kind,
			Version: c.Version, ChangedAt: c.At, ClientAddr: c.ClientAddr})
		if named[c.Purpose] == nil {
			named[c.Purpose] = map[string]bool{}
		}
		named[c.Purpose][c.Version] = true
	}
	// Oldest first across purposes; a purpose's changes keep their order.
	slices.SortStableFunc(out.History, func(a, b exportedChange) int {
		return cmp.Or(a.ChangedAt.Compare(b.ChangedAt), cmp.Compare(a.Purpose, b.Purpose), cmp.Compare(a.Revision, b.Revision))
	})
	for _, t := range domain.Texts() {
		if named[t.Purpose][t.Version] {
			out.Texts = append(out.Texts, ConsentText{t.Purpose, t.Version, t.Title, t.Body})
		}
	}
	if err := w.JSON("consents.json", out); err != nil {
		return err
	}
	s.Log.InfoContext(ctx, "consents exported", "patientId", patient, "changes", len(history))
	return nil
}
