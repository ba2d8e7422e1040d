package payouts

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/crypt"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/services/financial/payouts/domain"
	"github.com/secondopinion/platform/internal/services/financial/payouts/store"
)

// account is a payout account in the clear, as only the SEPA export and
// its owner's write ever hold it.
type account struct {
	Holder string `json:"holder"`
	IBAN   string `json:"iban"`
	BIC    string `json:"-"`
}

// putAccount validates and stores a professional's own payout account,
// sealed: holder and IBAN are encrypted with AES-256-GCM under a fresh
// data key of the professional's, bound to them (the professional id is
// the additional data, so a sealed account moved to another row does not
// open), and the data key is kept only wrapped by the keeper's master key.
func (s *Service) putAccount(ctx context.Context, who authn.Principal, professionalID string, in account) (store.Account, error) {
	if err := self(who, professionalID, false); err != nil {
		return store.Account{}, err
	}
	in.Holder = strings.TrimSpace(in.Holder)
	if in.Holder == "" || utf8.RuneCountInString(in.Holder) > 70 {
		return store.Account{}, fault.Invalid("holder", "the account holder's name, 1 to 70 characters")
	}
	in.IBAN = domain.NormalizeIBAN(in.IBAN)
	if err := domain.ValidIBAN(in.IBAN); err != nil {
		return store.Account{}, err
	}
	if in.BIC = domain.NormalizeBIC(in.BIC); in.BIC != "" {
		if err := domain.ValidBIC(in.BIC); err != nil {
			return store.Account{}, err
		}
	}
	key, err := crypt.NewKey()
	if err != nil {
		return store.Account{}, err
	}
	plain, err := json.Marshal(in)
	if err != nil {
		return store.Account{}, err
	}
	sealed, err := seal(key, plain, professionalID)
	if err != nil {
		return store.Account{}, err
	}
	wrapped, err := s.keeper.Wrap(ctx, key)
	if err != nil {
		return store.Account{}, fault.Unavailable("the key keeper", err)
	}
	a := store.Account{ProfessionalID: professionalID, Sealed: sealed, WrappedKey: wrapped, IBANMasked: domain.MaskIBAN(in.IBAN),
		BIC: in.BIC, UpdatedAt: s.now()}
	if err := s.store.PutAccount(ctx, a); err != nil {
		return store.Account{}, err
	}
	s.Log.InfoContext(ctx, "payout account set", "professionalId", professionalID)
	return a, nil
}

// getAccount is a professional's payout account, masked, for them or an
// admin.
func (s *Service) getAccount(ctx context.Context, who authn.Principal, professionalID string) (store.Account, error) {
	if err := self(who, professionalID, true); err != nil {
		return store.Account{}, err
	}
	return s.store.Account(ctx, professionalID)
}

// open unseals a stored account.
func (s *Service) open(ctx context.Context, a store.Account) (account, error) {
	key, err := s.keeper.Unwrap(ctx, a.WrappedKey)
	if err != nil {
		return account{}, fault.Unavailable("the key keeper", err)
	}
	plain, err := unseal(key, a.Sealed, a.ProfessionalID)
	if err != nil {
		return account{}, fmt.Errorf("payout account of %s: %w", a.ProfessionalID, err)
	}
	var out account
	if err := json.Unmarshal(plain, &out); err != nil {
		return account{}, fmt.Errorf("payout account of %s: %w", a.ProfessionalID, err)
	}
	out.BIC = a.BIC
	return out, nil
}

func aead(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal is nonce | AES-256-GCM(key, plain, additional data "payout-account:" + owner).
func seal(key, plain []byte, owner string) ([]byte, error) {
	g, err := aead(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize(), g.NonceSize()+len(plain)+g.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return g.Seal(nonce, nonce, plain, []byte("payout-account:"+owner)), nil
}

func unseal(key, sealed []byte, owner string) ([]byte, error) {
	g, err := aead(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < g.NonceSize() {
		return nil, fmt.Errorf("sealed account too short")
	}
	return g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], []byte("payout-account:"+owner))
}
