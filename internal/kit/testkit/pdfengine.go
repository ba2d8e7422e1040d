package testkit

import (
	"os"
	"path/filepath"
)

// PDFEngineCache is the folder where every test process of the machine
// keeps the PDF engine's compiled code (document-analysis'
// PDF_ENGINE_CACHE): compiling it takes seconds, and half a minute under
// the race detector, so it is compiled once per machine, not once per
// platform a test starts.
func PDFEngineCache() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "secondopinion", "pdf-engine-test")
}
