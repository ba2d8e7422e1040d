package medicalrecords

import (
	"context"
	"fmt"
	"io"

	"github.com/secondopinion/platform/internal/kit/crypt"
	"github.com/secondopinion/platform/internal/services/patient/medical-records/store"
)

// readKey returns patient's data key, unwrapped. It is read, never made:
// a patient with records has one, and reading must not make one for a
// patient who has none (or was erased).
func (s *Service) readKey(ctx context.Context, patient string) ([]byte, error) {
	wrapped, found, err := s.store.Key(ctx, patient)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("patient %s has records but no data key", patient)
	}
	return s.unwrap(ctx, patient, wrapped)
}

// original opens record d's original, decrypted with key as it is read:
// never whole in memory.
func (s *Service) original(ctx context.Context, key []byte, d store.Document) (io.ReadCloser, error) {
	size, err := s.bucket.Size(ctx, d.BlobKey)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", d.ID, err)
	}
	plain, err := crypt.NewReader(key, size, s.fetch(ctx, d.BlobKey), 0, -1)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", d.ID, err)
	}
	return plain, nil
}
