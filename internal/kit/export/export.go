// Package export carries a patient's data bundle (GDPR Art. 20): every
// service that holds part of it writes its files with a Writer onto the
// stream of its PatientDataService.Export, and patient-identity gathers
// the services' streams into one ZIP with Zip, streamed to the patient
// without holding any file in memory.
package export

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// chunkSize bounds a chunk's data: gRPC messages stay far below their 4
// MiB limit, and a file never sits whole in memory.
const chunkSize = 256 << 10

// Writer writes files as a stream of chunks: the first chunk of a file
// names its path, the ones after it continue it.
type Writer struct {
	send func(path string, data []byte) error
	buf  []byte
}

// NewWriter writes through send, which puts one chunk on the stream.
func NewWriter(send func(path string, data []byte) error) *Writer {
	return &Writer{send: send}
}

// JSON writes v, indented, as the file at name.
func (w *Writer) JSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return w.Copy(name, strings.NewReader(string(b)+"\n"))
}

// Copy writes what r holds as the file at name, in chunks.
func (w *Writer) Copy(name string, r io.Reader) error {
	if err := checkName(name); err != nil {
		return err
	}
	if w.buf == nil {
		w.buf = make([]byte, chunkSize)
	}
	first := true
	for {
		n, err := io.ReadFull(r, w.buf)
		if n > 0 || first {
			p := ""
			if first {
				p = name
			}
			if err := w.send(p, w.buf[:n]); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			first = false
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil
		case err != nil:
			return fmt.Errorf("export: %w", err)
		}
	}
}

// checkName refuses a path that could leave its service's folder of the
// bundle, names the folder itself (".") rather than a file in it, or is
// not in the clean, slash-separated form. Errors never name the path: a
// file name may be personal data, and errors are logged.
func checkName(name string) error {
	if name == "" || name == "." || path.IsAbs(name) || path.Clean(name) != name || name == ".." ||
		strings.HasPrefix(name, "../") || strings.Contains(name, "\\") {
		return errors.New("export: a path is not relative within the bundle")
	}
	return nil
}

// Next yields a part's chunks in order: a non-empty path begins a file,
// an empty one continues it; io.EOF ends the part.
type Next func() (path string, data []byte, err error)

// Part is one service's share of the bundle, under its own folder.
type Part struct {
	Folder string
	Open   func() (Next, error)
}

// Zip writes the bundle to w: a README, then each part's files under its
// folder. Files are deflated except those already compressed (images,
// documents, DICOM), which are stored. An error leaves the archive
// unfinished, so that a truncated bundle is never mistaken for a whole one.
func Zip(w io.Writer, at time.Time, readme string, parts []Part) error {
	z := zip.NewWriter(w)
	f, err := z.CreateHeader(&zip.FileHeader{Name: "README.txt", Method: zip.Deflate, Modified: at})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if _, err := io.WriteString(f, readme); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for _, p := range parts {
		if err := zipPart(z, at, p); err != nil {
			return fmt.Errorf("export %s: %w", p.Folder, err)
		}
	}
	if err := z.Close(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

func zipPart(z *zip.Writer, at time.Time, p Part) error {
	next, err := p.Open()
	if err != nil {
		return err
	}
	var file io.Writer
	for {
		name, data, err := next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if name != "" {
			if err := checkName(name); err != nil {
				return err
			}
			method := zip.Store
			if deflates(name) {
				method = zip.Deflate
			}
			if file, err = z.CreateHeader(&zip.FileHeader{Name: p.Folder + "/" + name, Method: method, Modified: at}); err != nil {
				return err
			}
		}
		if file == nil {
			return errors.New("a chunk continues no file")
		}
		if _, err := file.Write(data); err != nil {
			return err
		}
	}
}

// deflates tells the files worth compressing: text.
func deflates(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".json", ".txt", ".csv":
		return true
	}
	return false
}
