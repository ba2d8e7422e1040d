package pricing

import (
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/secondopinion/platform/internal/kit/crypt"
	"github.com/secondopinion/platform/internal/services/financial/pricing/domain"
)

// QuoteKey is PRICING_QUOTE_KEY: at least 32 bytes in base64url, its
// padding tolerated.
type QuoteKey []byte

// UnmarshalText reads a key. Its error never repeats the value.
func (k *QuoteKey) UnmarshalText(b []byte) error {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(string(b), "="))
	if err != nil || len(raw) < domain.MinKeySize {
		return fmt.Errorf("must be at least %d bytes in base64url", domain.MinKeySize)
	}
	*k = raw
	return nil
}

// QuoteKeyFile is where the key that signs quotes is kept under the data
// directory when PRICING_QUOTE_KEY is empty; it is made on first start.
const QuoteKeyFile = "pricing-quote-key"

// loadQuoteKey is the configured key or, without one, the key file under
// dataDir.
func loadQuoteKey(configured QuoteKey, dataDir string) ([]byte, error) {
	if len(configured) > 0 {
		if len(configured) < domain.MinKeySize {
			return nil, fmt.Errorf("PRICING_QUOTE_KEY: must be at least %d bytes", domain.MinKeySize)
		}
		return configured, nil
	}
	if dataDir == "" {
		return nil, errors.New("PRICING_QUOTE_KEY or a data directory for the key file is required")
	}
	return crypt.KeyFile(filepath.Join(dataDir, QuoteKeyFile), domain.MinKeySize)
}
