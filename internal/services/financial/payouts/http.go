package payouts

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/services/financial/payouts/domain"
	"github.com/secondopinion/platform/internal/services/financial/payouts/store"
)

// Amounts are integer minor units of the ISO 4217 currency beside them
// (cents for EUR), never floats.

// Rate is what an opinion earns by its author's level.
type Rate struct {
	Level       vocab.Level `json:"level"`
	Opinion     int64       `json:"opinion" minimum:"1" doc:"paid to the author of an approved opinion, minor units"`
	ReviewerFee int64       `json:"reviewerFee" minimum:"0" doc:"paid to the peer reviewer who approved it (a JUNIOR's opinion), minor units"`
}

// RateTableInput is the rates an admin puts in force from now on.
type RateTableInput struct {
	Currency string `json:"currency" pattern:"^[A-Z]{3}$" example:"EUR"`
	Rates    []Rate `json:"rates" minItems:"1" maxItems:"8" doc:"one per level, every level"`
}

// RateTable is the rates in force.
type RateTable struct {
	ID            string    `json:"id" format:"uuid"`
	Currency      string    `json:"currency" example:"EUR"`
	EffectiveFrom time.Time `json:"effectiveFrom" doc:"opinions approved from then on are priced by it"`
	Rates         []Rate    `json:"rates"`
}

func toRateTable(t domain.RateTable) RateTable {
	out := RateTable{ID: t.ID, Currency: t.Currency, EffectiveFrom: t.EffectiveFrom, Rates: make([]Rate, 0, len(t.Rates))}
	for _, r := range t.Rates {
		out.Rates = append(out.Rates, Rate(r))
	}
	return out
}

// EarningStatus is where an earning is on its way to being paid.
type EarningStatus string

const (
	Unpaid  EarningStatus = "UNPAID"   // in no batch yet
	InBatch EarningStatus = "IN_BATCH" // in a batch not paid yet
	PaidOut EarningStatus = "PAID"     // its batch was paid
)

func (EarningStatus) Values() []string {
	return []string{string(Unpaid), string(InBatch), string(PaidOut)}
}

// Earning is what a professional earned for one approved opinion.
type Earning struct {
	ID             string        `json:"id" format:"uuid"`
	ProfessionalID string        `json:"professionalId" format:"uuid"`
	OpinionID      string        `json:"opinionId" format:"uuid"`
	CaseID         string        `json:"caseId,omitempty" format:"uuid" doc:"absent once the case was erased"`
	Kind           domain.Kind   `json:"kind" doc:"OPINION for its author, REVIEW for the peer reviewer"`
	Level          vocab.Level   `json:"level" doc:"the author's level, which priced it"`
	Amount         int64         `json:"amount" doc:"minor units"`
	Currency       string        `json:"currency" example:"EUR"`
	AccruedAt      time.Time     `json:"accruedAt" doc:"when the opinion was approved"`
	Status         EarningStatus `json:"status"`
	BatchID        string        `json:"batchId,omitempty" format:"uuid" doc:"the payout batch that holds it"`
	PaidAt         *time.Time    `json:"paidAt,omitempty"`
}

func toEarning(e store.Earning) Earning {
	out := Earning{ID: e.ID, ProfessionalID: e.ProfessionalID, OpinionID: e.OpinionID, CaseID: e.CaseID, Kind: e.Kind,
		Level: e.Level, Amount: e.Amount, Currency: e.Currency, AccruedAt: e.AccruedAt, Status: Unpaid, BatchID: e.BatchID}
	switch e.BatchStatus {
	case store.Created:
		out.Status = InBatch
	case store.Paid:
		out.Status = PaidOut
		out.PaidAt = &e.PaidAt
	}
	return out
}

// StatementTotal sums a month's earnings in one currency.
type StatementTotal struct {
	Currency string `json:"currency" example:"EUR"`
	Earnings int    `json:"earnings" doc:"how many"`
	Earned   int64  `json:"earned" doc:"minor units"`
	Paid     int64  `json:"paid" doc:"of which paid"`
	InBatch  int64  `json:"inBatch" doc:"of which in a batch not paid yet"`
	Unpaid   int64  `json:"unpaid" doc:"of which in no batch yet"`
}

// StatementBatch is a batch that holds some of a month's earnings.
type StatementBatch struct {
	BatchID  string     `json:"batchId" format:"uuid"`
	Status   string     `json:"status" enum:"CREATED,PAID"`
	PaidAt   *time.Time `json:"paidAt,omitempty"`
	Amount   int64      `json:"amount" doc:"of this month's earnings, minor units"`
	Currency string     `json:"currency"`
}

// Statement is a professional's month.
type Statement struct {
	ProfessionalID string           `json:"professionalId" format:"uuid"`
	Month          string           `json:"month" example:"2031-05"`
	Earnings       []Earning        `json:"earnings" nullable:"false"`
	Totals         []StatementTotal `json:"totals" nullable:"false"`
	Batches        []StatementBatch `json:"batches" nullable:"false" doc:"the batches that paid, or will pay, them"`
}

func toStatement(id string, m domain.Month, es []store.Earning) Statement {
	st := Statement{ProfessionalID: id, Month: m.String(), Earnings: make([]Earning, 0, len(es)), Totals: []StatementTotal{},
		Batches: []StatementBatch{}}
	totals, batches := map[string]int{}, map[string]int{}
	for _, e := range es {
		v := toEarning(e)
		st.Earnings = append(st.Earnings, v)
		i, ok := totals[e.Currency]
		if !ok {
			i = len(st.Totals)
			totals[e.Currency] = i
			st.Totals = append(st.Totals, StatementTotal{Currency: e.Currency})
		}
		t := &st.Totals[i]
		t.Earnings++
		t.Earned += e.Amount
		switch v.Status {
		case PaidOut:
			t.Paid += e.Amount
		case InBatch:
			t.InBatch += e.Amount
		default:
			t.Unpaid += e.Amount
		}
		if e.BatchID == "" {
			continue
		}
		j, ok := batches[e.BatchID]
		if !ok {
			j = len(st.Batches)
			batches[e.BatchID] = j
			st.Batches = append(st.Batches, StatementBatch{BatchID: e.BatchID, Status: e.BatchStatus, PaidAt: v.PaidAt, Currency: e.Currency})
		}
		st.Batches[j].Amount += e.Amount
	}
	return st
}

// BatchItem is what one professional is paid by a batch.
type BatchItem struct {
	ProfessionalID string `json:"professionalId" format:"uuid"`
	Earnings       int    `json:"earnings" doc:"how many earnings it pays"`
	Amount         int64  `json:"amount" doc:"minor units"`
}

// Batch is a payout batch.
type Batch struct {
	ID            string      `json:"id" format:"uuid"`
	PeriodStart   string      `json:"periodStart" format:"date"`
	PeriodEnd     string      `json:"periodEnd" format:"date"`
	Currency      string      `json:"currency" example:"EUR"`
	Total         int64       `json:"total" doc:"minor units"`
	Professionals int         `json:"professionals"`
	Earnings      int         `json:"earnings"`
	Status        string      `json:"status" enum:"CREATED,PAID"`
	CreatedAt     time.Time   `json:"createdAt"`
	CreatedBy     string      `json:"createdBy" format:"uuid"`
	PaidAt        *time.Time  `json:"paidAt,omitempty"`
	PaidBy        string      `json:"paidBy,omitempty" format:"uuid"`
	Items         []BatchItem `json:"items,omitempty" doc:"one per professional; absent in lists"`
}

func toBatch(b store.Batch) Batch {
	out := Batch{ID: b.ID, PeriodStart: b.PeriodStart, PeriodEnd: b.PeriodEnd, Currency: b.Currency, Total: b.Total,
		Professionals: b.Professionals, Earnings: b.Earnings, Status: b.Status, CreatedAt: b.CreatedAt, CreatedBy: b.CreatedBy,
		PaidBy: b.PaidBy}
	if !b.PaidAt.IsZero() {
		out.PaidAt = &b.PaidAt
	}
	for _, it := range b.Items {
		out.Items = append(out.Items, BatchItem{ProfessionalID: it.ProfessionalID, Earnings: it.Earnings, Amount: it.Amount})
	}
	return out
}

// PayoutAccountInput is where a professional wants to be paid.
type PayoutAccountInput struct {
	Holder string `json:"holder" minLength:"1" maxLength:"70" doc:"the account holder's name, as the bank knows it"`
	IBAN   string `json:"iban" minLength:"15" maxLength:"42" example:"DE89 3704 0044 0532 0130 00" doc:"spaces allowed; checked with its ISO 13616 check digits"`
	BIC    string `json:"bic,omitempty" maxLength:"11" example:"COBADEFFXXX" doc:"optional within SEPA"`
}

// PayoutAccount is a professional's payout account as it is shown: the
// IBAN masked, the holder not at all (both are kept encrypted).
type PayoutAccount struct {
	ProfessionalID string    `json:"professionalId" format:"uuid"`
	IBAN           string    `json:"iban" example:"DE89**************3000" doc:"masked: country, check digits and last four"`
	BIC            string    `json:"bic,omitempty"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

func toAccount(a store.Account) PayoutAccount {
	return PayoutAccount{ProfessionalID: a.ProfessionalID, IBAN: a.IBANMasked, BIC: a.BIC, UpdatedAt: a.UpdatedAt}
}

type (
	proInput struct {
		ID string `path:"id" format:"uuid" doc:"the professional"`
	}
	earningsInput struct {
		ID     string `path:"id" format:"uuid" doc:"the professional"`
		From   string `query:"from" format:"date" doc:"first day of accrual, UTC, included"`
		To     string `query:"to" format:"date" doc:"last day of accrual, UTC, included"`
		Cursor string `query:"cursor" doc:"nextCursor of the previous page"`
		Limit  int    `query:"limit" default:"20" minimum:"1" maximum:"100"`
	}
	earningsOutput struct{ Body page.Page[Earning] }
	statementInput struct {
		ID    string `path:"id" format:"uuid" doc:"the professional"`
		Month string `path:"month" pattern:"^[0-9]{4}-(0[1-9]|1[0-2])$" doc:"YYYY-MM, UTC"`
	}
	statementOutput struct{ Body Statement }
	ratesOutput     struct{ Body RateTable }
	ratesInput      struct{ Body RateTableInput }
	batchInput      struct{ Body BatchRequest }
	batchIDInput    struct {
		ID string `path:"id" format:"uuid"`
	}
	batchOutput  struct{ Body Batch }
	createdBatch struct {
		Location string `header:"Location"`
		Body     Batch
	}
	batchesInput struct {
		Cursor string `query:"cursor" doc:"nextCursor of the previous page"`
		Limit  int    `query:"limit" default:"20" minimum:"1" maximum:"100"`
	}
	batchesOutput struct{ Body page.Page[Batch] }
	fileOutput    struct {
		ContentType        string `header:"Content-Type"`
		ContentDisposition string `header:"Content-Disposition"`
		Body               []byte
	}
	accountInput struct {
		ID   string `path:"id" format:"uuid" doc:"the professional"`
		Body PayoutAccountInput
	}
	accountOutput struct{ Body PayoutAccount }
)

func (s *Service) routes(api huma.API) {
	httpapi.Enum[vocab.Level](api)
	httpapi.Enum[domain.Kind](api)
	httpapi.Enum[EarningStatus](api)
	admin := authz.Roles(authn.RoleAdmin)
	ownOrAdmin := authz.Roles(authn.RoleProfessional, authn.RoleAdmin).Owned()
	own := authz.Roles(authn.RoleProfessional).Owned()
	earnings, batches := []string{"Earnings"}, []string{"Payout batches"}
	conflict := []int{http.StatusConflict}

	httpapi.Register(api, huma.Operation{OperationID: "get-payout-rates", Method: http.MethodGet, Path: "/api/v1/payouts/rates",
		Summary: "The rates in force: what an approved opinion earns by its author's level", Tags: earnings}, admin,
		func(ctx context.Context, _ *struct{}) (*ratesOutput, error) {
			t, err := s.rates(ctx)
			if err != nil {
				return nil, err
			}
			return &ratesOutput{toRateTable(t)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "set-payout-rates", Method: http.MethodPut, Path: "/api/v1/payouts/rates",
		Summary:     "Put new rates in force from now on",
		Description: "Opinions approved from now on are priced by them; earnings already accrued keep theirs.", Tags: earnings}, admin,
		func(ctx context.Context, in *ratesInput) (*ratesOutput, error) {
			t := domain.RateTable{Currency: in.Body.Currency}
			for _, r := range in.Body.Rates {
				t.Rates = append(t.Rates, domain.Rate(r))
			}
			t, err := s.setRates(ctx, authn.FromContext(ctx), t)
			if err != nil {
				return nil, err
			}
			return &ratesOutput{toRateTable(t)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "list-earnings", Method: http.MethodGet, Path: "/api/v1/professionals/{id}/earnings",
		Summary: "A professional's earnings, newest first (the professional or an admin)", Tags: earnings}, ownOrAdmin,
		func(ctx context.Context, in *earningsInput) (*earningsOutput, error) {
			es, next, err := s.earnings(ctx, authn.FromContext(ctx), in.ID, in.From, in.To, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			return &earningsOutput{page.Of(es, next, toEarning)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-earnings-statement", Method: http.MethodGet,
		Path:    "/api/v1/professionals/{id}/statements/{month}",
		Summary: "A professional's monthly statement: the month's earnings, totals, and the batches that pay them", Tags: earnings},
		ownOrAdmin,
		func(ctx context.Context, in *statementInput) (*statementOutput, error) {
			m, es, err := s.statement(ctx, authn.FromContext(ctx), in.ID, in.Month)
			if err != nil {
				return nil, err
			}
			return &statementOutput{toStatement(in.ID, m, es)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "set-payout-account", Method: http.MethodPut,
		Path: "/api/v1/professionals/{id}/payout-account", Summary: "Set where the professional is paid (the professional themself)",
		Description: "The holder and IBAN are stored encrypted; the answer shows the IBAN masked.", Tags: earnings}, own,
		func(ctx context.Context, in *accountInput) (*accountOutput, error) {
			a, err := s.putAccount(ctx, authn.FromContext(ctx), in.ID, account{Holder: in.Body.Holder, IBAN: in.Body.IBAN, BIC: in.Body.BIC})
			if err != nil {
				return nil, err
			}
			return &accountOutput{toAccount(a)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-payout-account", Method: http.MethodGet,
		Path: "/api/v1/professionals/{id}/payout-account", Summary: "A professional's payout account, masked", Tags: earnings}, ownOrAdmin,
		func(ctx context.Context, in *proInput) (*accountOutput, error) {
			a, err := s.getAccount(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &accountOutput{toAccount(a)}, nil
		})

	httpapi.Register(api, huma.Operation{OperationID: "create-payout-batch", Method: http.MethodPost, Path: "/api/v1/payouts",
		Summary: "Gather a period's unpaid earnings into a payout batch, one item per professional",
		Description: "An earning is in at most one batch. 409 when the period holds no unpaid earning; 422 for a period " +
			"that ends after today. Publishes payout.batch_created.",
		Tags: batches, DefaultStatus: http.StatusCreated, Errors: conflict}, admin,
		func(ctx context.Context, in *batchInput) (*createdBatch, error) {
			b, err := s.createBatch(ctx, authn.FromContext(ctx), in.Body)
			if err != nil {
				return nil, err
			}
			return &createdBatch{Location: "/api/v1/payouts/" + b.ID, Body: toBatch(b)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "list-payout-batches", Method: http.MethodGet, Path: "/api/v1/payouts",
		Summary: "Payout batches, newest first", Tags: batches}, admin,
		func(ctx context.Context, in *batchesInput) (*batchesOutput, error) {
			bs, next, err := s.store.Batches(ctx, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			return &batchesOutput{page.Of(bs, next, toBatch)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-payout-batch", Method: http.MethodGet, Path: "/api/v1/payouts/{id}",
		Summary: "A payout batch with its items", Tags: batches}, admin,
		func(ctx context.Context, in *batchIDInput) (*batchOutput, error) {
			b, err := s.store.Batch(ctx, s.store.DB(), in.ID)
			if err != nil {
				return nil, err
			}
			return &batchOutput{toBatch(b)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "mark-payout-batch-paid", Method: http.MethodPost, Path: "/api/v1/payouts/{id}/paid",
		Summary:     "Mark a payout batch paid",
		Description: "Publishes payout.paid per professional the first time; marking a paid batch again changes nothing.",
		Tags:        batches}, admin,
		func(ctx context.Context, in *batchIDInput) (*batchOutput, error) {
			b, err := s.markPaid(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &batchOutput{toBatch(b)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-payout-batch-csv", Method: http.MethodGet, Path: "/api/v1/payouts/{id}/csv",
		Summary: "A payout batch as CSV, one line per professional", Tags: batches,
		Responses: map[string]*huma.Response{"200": {Description: "the batch", Content: map[string]*huma.MediaType{
			"text/csv": {Schema: &huma.Schema{Type: huma.TypeString}}}}}}, admin,
		func(ctx context.Context, in *batchIDInput) (*fileOutput, error) {
			b, err := s.store.Batch(ctx, s.store.DB(), in.ID)
			if err != nil {
				return nil, err
			}
			body, err := batchCSV(b)
			if err != nil {
				return nil, err
			}
			return &fileOutput{ContentType: "text/csv; charset=utf-8",
				ContentDisposition: `attachment; filename="payout-` + b.ID + `.csv"`, Body: body}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-payout-batch-sepa", Method: http.MethodGet, Path: "/api/v1/payouts/{id}/sepa",
		Summary: "A payout batch as a SEPA credit transfer file (ISO 20022 pain.001.001.09) for the bank",
		Description: "409 when a professional of the batch has no payout account (the problem names how many and who), " +
			"or when the batch is not in euros. The file's message id is the batch's: a bank refuses it twice.",
		Tags: batches, Errors: conflict,
		Responses: map[string]*huma.Response{"200": {Description: "the pain.001.001.09 document", Content: map[string]*huma.MediaType{
			"application/xml": {Schema: &huma.Schema{Type: huma.TypeString}}}}}}, admin,
		func(ctx context.Context, in *batchIDInput) (*fileOutput, error) {
			b, doc, err := s.sepa(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &fileOutput{ContentType: "application/xml; charset=utf-8",
				ContentDisposition: `attachment; filename="payout-` + b.ID + `.xml"`, Body: doc}, nil
		})
}
