package domain

import (
	"encoding/base64"

	"github.com/secondopinion/platform/internal/kit/fault"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func fieldOf(err error) string {
	if f, ok := fault.As(err); ok {
		return f.Field
	}
	return ""
}
