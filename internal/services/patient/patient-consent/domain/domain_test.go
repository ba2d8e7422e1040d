package domain

import (
	"testing"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

var t0 = time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)

func TestTexts(t *testing.T) {
	got := Texts()
	if len(got) != len(vocab.ConsentPurposes) {
		t.Fatalf("%d texts for %d purposes", len(got), len(vocab.ConsentPurposes))
	}
	for i, p := range vocab.ConsentPurposes {
		if x := got[i]; x.Purpose != p || x.Version == "" || x.Title == "" || x.Body == "" {
			t.Errorf("text of %s: %+v", p, x)
		}
	}
	if Current("MARKETING") != (Text{}) {
		t.Error("a text for a purpose that is not offered")
	}
}

func TestFold(t *testing.T) {
	none := Fold(nil)
	for _, p := range vocab.ConsentPurposes {
		if s := none[p]; s.Status != StatusNotGranted || s.Revision != 0 || s.Purpose != p || s.Version != "" {
			t.Errorf("%s without history: %+v", p, s)
		}
	}
	r := vocab.ConsentResearch
	// Out of order on purpose: revisions decide, not the order given.
	got := Fold([]Change{
		{Purpose: r, Revision: 3, Kind: Granted, Version: "v2", At: t0.Add(3 * time.Hour)},
		{Purpose: r, Revision: 1, Kind: Granted, Version: "v1", At: t0},
		{Purpose: vocab.ConsentAIProcessing, Revision: 1, Kind: Granted, Version: "v1", At: t0},
		{Purpose: r, Revision: 2, Kind: Withdrawn, Version: "v1", At: t0.Add(time.Hour)},
		{Purpose: vocab.ConsentAIProcessing, Revision: 2, Kind: Withdrawn, Version: "v1", At: t0.Add(2 * time.Hour)},
		{Purpose: "MARKETING", Revision: 1, Kind: Granted, Version: "v1", At: t0},
	})
	if s := got[r]; s.Status != StatusGranted || s.Version != "v2" || s.Revision != 3 || !s.GrantedAt.Equal(t0.Add(3*time.Hour)) || !s.WithdrawnAt.IsZero() {
		t.Errorf("re-granted: %+v", s)
	}
	if s := got[vocab.ConsentAIProcessing]; s.Status != StatusWithdrawn || s.Version != "v1" || s.Revision != 2 ||
		!s.GrantedAt.Equal(t0) || !s.WithdrawnAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("withdrawn: %+v", s)
	}
	if s := got[vocab.ConsentShareWithProfessionals]; s.Status != StatusNotGranted {
		t.Errorf("untouched: %+v", s)
	}
	if _, ok := got["MARKETING"]; ok || len(got) != len(vocab.ConsentPurposes) {
		t.Errorf("states of purposes not offered: %v", got)
	}
}

func TestGrant(t *testing.T) {
	p := vocab.ConsentShareWithProfessionals
	cur := Current(p)
	fresh := State{Purpose: p, Status: StatusNotGranted}
	c, ok, err := Grant(fresh, cur.Version, t0)
	if err != nil || !ok || c != (Change{Purpose: p, Revision: 1, Kind: Granted, Version: cur.Version, At: t0}) {
		t.Fatalf("first grant: %+v %v %v", c, ok, err)
	}
	granted := State{Purpose: p, Status: StatusGranted, Revision: 1, Version: cur.Version, GrantedAt: t0}
	if _, ok, err := Grant(granted, cur.Version, t0.Add(time.Hour)); ok || err != nil {
		t.Errorf("granting again what is granted: %v %v, want no change", ok, err)
	}
	old := State{Purpose: p, Status: StatusGranted, Revision: 4, Version: "2020-01-01"}
	if c, ok, err := Grant(old, cur.Version, t0); err != nil || !ok || c.Revision != 5 || c.Version != cur.Version {
		t.Errorf("granting the new text over an old grant: %+v %v %v", c, ok, err)
	}
	withdrawn := State{Purpose: p, Status: StatusWithdrawn, Revision: 2, Version: cur.Version}
	if c, ok, err := Grant(withdrawn, cur.Version, t0); err != nil || !ok || c.Revision != 3 || c.Kind != Granted {
		t.Errorf("granting after a withdrawal: %+v %v %v", c, ok, err)
	}
	for _, v := range []string{"2020-01-01", "", cur.Version + " "} {
		_, ok, err := Grant(fresh, v, t0)
		if f, isFault := fault.As(err); ok || !isFault || f.Kind != fault.KindConflict || f.Title != ErrOutdated {
			t.Errorf("grant of version %q: %v %v, want the conflict %q", v, ok, err, ErrOutdated)
		}
	}
	if _, _, err := Grant(State{Purpose: "MARKETING"}, "v1", t0); fault.KindOf(err) != fault.KindInvalid {
		t.Errorf("grant for an unknown purpose: %v", err)
	}
}

func TestWithdraw(t *testing.T) {
	p := vocab.ConsentAIProcessing
	granted := State{Purpose: p, Status: StatusGranted, Revision: 3, Version: "v7", GrantedAt: t0}
	c, ok := Withdraw(granted, t0.Add(time.Hour))
	if !ok || c != (Change{Purpose: p, Revision: 4, Kind: Withdrawn, Version: "v7", At: t0.Add(time.Hour)}) {
		t.Errorf("withdraw: %+v %v", c, ok)
	}
	for _, s := range []State{{Purpose: p, Status: StatusNotGranted}, {Purpose: p, Status: StatusWithdrawn, Revision: 2}} {
		if _, ok := Withdraw(s, t0); ok {
			t.Errorf("withdrawing %s: a change", s.Status)
		}
	}
}
