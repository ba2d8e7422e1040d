package patientidentity

import (
	"context"
	"database/sql"
	"io"
	"time"

	"github.com/secondopinion/platform/api/events"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/export"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// A patient's rights over their data (GDPR): the export (Art. 20)
// gathers what every service holds of them into one ZIP, each service
// writing its own part; the erasure (Art. 17) deletes the profile here
// and tells every other service through patient.erased, which each
// carries out on its own store (docs/retention.md lists what is kept).

// exportReadme opens every bundle.
const exportReadme = `Your data at Second Opinion, as of the time of this export.

Each folder holds what one part of the platform keeps of you, as JSON
(UTF-8), with your documents as you uploaded them and your opinions as PDF:

  patient-identity/profile.json    your profile
  patient-consent/consents.json    your consents and their history
  case-management/cases.json       your cases and their timelines
  medical-records/documents.json   your documents; the files are in documents/
  medical-opinion/opinions.json    the opinions on your cases and your follow-up
                                   questions; the reports are in reports/
  audit/access-log.json            who read your data, when and why, and
                                   what you did yourself
`

// exportParts admits who to patient id's export, records it in the audit
// trail, and returns the bundle's parts: the profile from here, then each
// service's part, read as the bundle is written. A service that is down
// answers 503 before anything is sent.
func (s *Service) exportParts(ctx context.Context, who authn.Principal, id string) ([]export.Part, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	if err := s.admit(ctx, who, "patient.export", id); err != nil {
		return nil, err
	}
	p, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, peer := range s.holders {
		if err := peer.Ready(ctx); err != nil {
			return nil, err
		}
	}
	caseIDs, err := s.cases.CaseIDs(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.audit(ctx, who, "patient.export", id, kitaudit.Allowed); err != nil {
		return nil, err
	}
	parts := []export.Part{{Folder: Name, Open: func() (export.Next, error) {
		return single("profile.json", toProfile(p))
	}}}
	for _, peer := range s.holders {
		parts = append(parts, export.Part{Folder: peer.Target, Open: func() (export.Next, error) {
			return peer.Open(ctx, id, caseIDs)
		}})
	}
	s.Log.InfoContext(ctx, "patient export started", "patientId", id, "actor", who.Subject, "cases", len(caseIDs))
	return parts, nil
}

// single is a part of one JSON file, written by the export's own Writer
// so that it is chunked as every other part is.
func single(name string, v any) (export.Next, error) {
	type chunk struct {
		path string
		data []byte
	}
	var chunks []chunk
	w := export.NewWriter(func(path string, data []byte) error {
		chunks = append(chunks, chunk{path, append([]byte(nil), data...)})
		return nil
	})
	if err := w.JSON(name, v); err != nil {
		return nil, err
	}
	return func() (string, []byte, error) {
		if len(chunks) == 0 {
			return "", nil, io.EOF
		}
		c := chunks[0]
		chunks = chunks[1:]
		return c.path, c.data, nil
	}, nil
}

// erase erases patient id: the patient themself, confirming with their
// password, or an admin. The profile is deleted and patient.erased
// published in one transaction; every other service then removes or
// anonymises what it holds, so the erasure completes shortly after the
// answer (202). Erasing again is a 404: nothing of the patient is left.
func (s *Service) erase(ctx context.Context, who authn.Principal, id, password string) (time.Time, error) {
	if err := validID(id); err != nil {
		return time.Time{}, err
	}
	if err := s.admit(ctx, who, "patient.erase", id); err != nil {
		return time.Time{}, err
	}
	if _, err := s.store.Get(ctx, id); err != nil {
		return time.Time{}, err
	}
	if who.Role == authn.RolePatient {
		if password == "" {
			return time.Time{}, fault.Invalid("password", "confirm the erasure with your password")
		}
		if err := s.logins.CheckPassword(ctx, id, password, kitaudit.FromContext(ctx).ClientAddr); err != nil {
			return time.Time{}, err
		}
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	erased, err := events.PatientErasedV1.New(Name, id, events.PatientErased{PatientID: id, Timestamp: now})
	if err != nil {
		return time.Time{}, err
	}
	// Who erased the patient is recorded with the erasure, in its
	// transaction: an admin's erasure never goes unrecorded.
	e := kitaudit.FromContext(ctx)
	e.At, e.Action, e.ResourceType, e.ResourceID, e.PatientID = now, "patient.erase", "patient", id, id
	e.Purpose, e.Outcome = authz.Purpose(who), kitaudit.Allowed
	recorded, err := kitaudit.Recorded.New(Name, id, e)
	if err != nil {
		return time.Time{}, err
	}
	if err := s.store.Erase(ctx, id, func(tx *sql.Tx) error { return s.ForgetRequests(ctx, tx, id) }, erased, recorded); err != nil {
		return time.Time{}, err
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "patient erased", "patientId", id, "actor", who.Subject, "role", string(who.Role))
	return now, nil
}
