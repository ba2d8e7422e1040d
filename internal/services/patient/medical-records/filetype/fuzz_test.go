package filetype_test

import (
	"bytes"
	"testing"

	"github.com/secondopinion/platform/internal/kit/fault"
	ft "github.com/secondopinion/platform/internal/services/patient/medical-records/filetype"
)

// FuzzDetect feeds Detect arbitrary bytes, starting from the table's files.
// It must not panic, must return one of the accepted types or a refusal of
// kind Unsupported or Invalid with a Detail, and never both.
func FuzzDetect(f *testing.F) {
	for _, c := range cases(f) {
		f.Add(c.data)
	}
	accepted := map[ft.Type]bool{ft.PDF: true, ft.PNG: true, ft.JPEG: true, ft.TIFF: true, ft.DICOM: true, ft.Text: true, ft.DOCX: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ft.Detect(bytes.NewReader(data), int64(len(data)), ft.Limits{})
		if err == nil {
			if !accepted[got] {
				t.Fatalf("accepted as %v", got)
			}
			return
		}
		e, ok := fault.As(err)
		if !ok || e.Kind != fault.KindUnsupported && e.Kind != fault.KindInvalid || e.Detail == "" || got != (ft.Type{}) {
			t.Fatalf("got %v, %v", got, err)
		}
	})
}
