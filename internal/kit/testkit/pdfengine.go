package testkit

import (
	"os"
	"path/filepath"
	"regexp"
	"sync"
)

// PDFEngineCache is the folder where every test process of the machine
// keeps the PDF engine's compiled code (document-analysis'
// PDF_ENGINE_CACHE): compiling it takes seconds, and half a minute under
// the race detector, so it is compiled once per machine, not once per
// platform a test starts. The folder is named after the wazero version in
// go.mod: a test binary carries no dependency versions, so wazero labels
// its cache "dev" and would otherwise load code an older version compiled.
func PDFEngineCache() string {
	pdfEngine.Do(func() {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		pdfEngine.dir = filepath.Join(base, "secondopinion", "pdf-engine-test", "wazero-"+wazeroVersion())
	})
	return pdfEngine.dir
}

var pdfEngine struct {
	sync.Once
	dir string
}

var wazeroRequire = regexp.MustCompile(`(?m)^\s*github\.com/tetratelabs/wazero (v\S+)`)

// wazeroVersion reads the wazero version from the go.mod above the
// working directory (a test runs in its package's folder); "unknown" when
// there is none.
func wazeroVersion() string {
	dir, err := os.Getwd()
	for err == nil {
		if b, rerr := os.ReadFile(filepath.Join(dir, "go.mod")); rerr == nil {
			if m := wazeroRequire.FindSubmatch(b); m != nil {
				return string(m[1])
			}
			return "unknown"
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "unknown"
}
