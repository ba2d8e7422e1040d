package search

import (
	"context"
	"time"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// The events carry no text: a case's title and question are health data
// that stay off the bus. The fetcher reads them from case-management's
// CaseService once per indexed case, outside any event's transaction (a
// slow or absent case-management delays the text, never the events), and
// case-management records each read in the audit trail with the purpose
// "search.index".

// textBatch is how many texts one pass fetches at most.
const textBatch = 100

// fetchTexts fetches texts until none is missing, then every
// TextInterval or when woken, until ctx ends.
func (s *Service) fetchTexts(ctx context.Context) {
	t := time.NewTicker(s.cfg.TextInterval)
	defer t.Stop()
	for {
		for {
			n, err := s.fillTexts(ctx)
			if err != nil && ctx.Err() == nil {
				s.Log.WarnContext(ctx, "fetch case texts", "err", err)
			}
			if err != nil || n < textBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.woken:
			// The event that woke it commits just after its handler.
			select {
			case <-ctx.Done():
				return
			case <-time.After(wakeDelay):
			}
		}
	}
}

// wakeDelay is how long a woken fetcher waits for the new case's
// transaction to commit.
const wakeDelay = 50 * time.Millisecond

// wake asks the fetcher for a pass; it never blocks.
func (s *Service) wake() {
	select {
	case s.woken <- struct{}{}:
	default:
	}
}

// fillTexts fetches the texts of up to textBatch cases that have none and
// returns how many it looked at. A case case-management no longer knows
// (erased: its case.erased is on its way) gets an empty text, so it is
// not asked for again; a failure ends the pass, to be retried.
func (s *Service) fillTexts(ctx context.Context) (int, error) {
	ids, err := s.store.Untexted(ctx, textBatch)
	if err != nil {
		return 0, err
	}
	for i, id := range ids {
		c, err := s.cases.Case(ctx, id, "search.index")
		if fault.Is(err, fault.KindNotFound) {
			c.ID, err = id, nil
		}
		if err != nil {
			return i, err
		}
		if _, err := s.store.SetText(ctx, id, c.CustomerID, c.Title, c.Question, s.now()); err != nil {
			return i, err
		}
	}
	return len(ids), nil
}
