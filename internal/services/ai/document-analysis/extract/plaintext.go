package extract

import (
	"io"
	"strings"
	"unicode/utf8"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// plainText reads a UTF-8 text file: a leading byte-order mark is dropped,
// a form feed starts a new page (one at the very end closes the last page
// and does not open an empty one), and line ends become "\n".
func (e *Extractor) plainText(r io.Reader) (Text, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return Text{}, readFailure(err)
	}
	s := strings.TrimPrefix(string(b), "\uFEFF")
	if !utf8.ValidString(s) {
		return Text{}, failure(fault.KindInvalid, ErrMalformed, "Broken document", "the text is not valid UTF-8")
	}
	s = normalise(s)
	if err := (&textBudget{left: e.lim.MaxTextBytes}).take(s); err != nil {
		return Text{}, err
	}
	parts := strings.Split(s, "\f")
	if len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) > e.lim.MaxPages {
		return Text{}, tooManyPages(len(parts), e.lim.MaxPages)
	}
	pages := make([]Page, len(parts))
	for i, p := range parts {
		pages[i] = Page{Number: i + 1, Text: p, Method: MethodPlainText, Status: StatusOK}
	}
	return Text{Pages: pages}, nil
}
