package export_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/export"
)

// chunkSize is the Writer's bound on a chunk's data: 256 KiB.
const chunkSize = 256 << 10

// chunk is one message of a part's stream.
type chunk struct {
	path string
	data []byte
}

// recorder collects what a Writer sends, copying each chunk: the Writer
// reuses its buffer.
type recorder struct{ chunks []chunk }

func (r *recorder) send(path string, data []byte) error {
	r.chunks = append(r.chunks, chunk{path, bytes.Clone(data)})
	return nil
}

// next replays chunks as a part's stream, then io.EOF.
func next(chunks []chunk) export.Next {
	return func() (string, []byte, error) {
		if len(chunks) == 0 {
			return "", nil, io.EOF
		}
		c := chunks[0]
		chunks = chunks[1:]
		return c.path, c.data, nil
	}
}

// random is n reproducible bytes that do not compress.
func random(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)})
	_, _ = r.Read(b)
	return b
}

func TestCopyChunks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		sizes []int // the chunks' lengths
	}{
		{"empty", 0, []int{0}},
		{"one byte", 1, []int{1}},
		{"exactly one chunk", chunkSize, []int{chunkSize}},
		{"one byte more", chunkSize + 1, []int{chunkSize, 1}},
		{"600 KiB", 600 << 10, []int{chunkSize, chunkSize, 600<<10 - 2*chunkSize}},
		{"exactly two chunks", 2 * chunkSize, []int{chunkSize, chunkSize}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r recorder
			w := export.NewWriter(r.send)
			data := random(tc.size)
			// An iotest-style reader returning little at a time: chunks
			// are filled whole all the same.
			if err := w.Copy("dir/file.bin", &trickle{data}); err != nil {
				t.Fatal(err)
			}
			if len(r.chunks) != len(tc.sizes) {
				t.Fatalf("%d chunks, want %d", len(r.chunks), len(tc.sizes))
			}
			var got []byte
			for i, c := range r.chunks {
				want := ""
				if i == 0 {
					want = "dir/file.bin"
				}
				if c.path != want {
					t.Errorf("chunk %d path %q, want %q", i, c.path, want)
				}
				if len(c.data) != tc.sizes[i] {
					t.Errorf("chunk %d holds %d bytes, want %d", i, len(c.data), tc.sizes[i])
				}
				got = append(got, c.data...)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("the chunks do not add up to the file")
			}
		})
	}
}

// trickle reads at most 1000 bytes at a time.
type trickle struct{ b []byte }

func (t *trickle) Read(p []byte) (int, error) {
	if len(t.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 1000)], t.b)
	t.b = t.b[n:]
	return n, nil
}

// One Writer writes several files: each begins with a chunk naming it.
func TestCopySeveralFiles(t *testing.T) {
	var r recorder
	w := export.NewWriter(r.send)
	big := random(chunkSize + 10)
	if err := w.Copy("a.bin", bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	if err := w.Copy("b.txt", strings.NewReader("")); err != nil {
		t.Fatal(err)
	}
	if err := w.Copy("c/d.txt", strings.NewReader("d")); err != nil {
		t.Fatal(err)
	}
	want := []chunk{{"a.bin", big[:chunkSize]}, {"", big[chunkSize:]}, {"b.txt", []byte{}}, {"c/d.txt", []byte("d")}}
	if len(r.chunks) != len(want) {
		t.Fatalf("%d chunks, want %d", len(r.chunks), len(want))
	}
	for i, c := range r.chunks {
		if c.path != want[i].path || !bytes.Equal(c.data, want[i].data) {
			t.Errorf("chunk %d: %q with %d bytes, want %q with %d", i, c.path, len(c.data), want[i].path, len(want[i].data))
		}
	}
}

func TestCopyRefusesNamesLeavingTheFolder(t *testing.T) {
	for _, name := range []string{
		"",
		".",
		"/etc/passwd",
		"/a",
		"..",
		"../x",
		"../../x",
		"a/../../x",
		"a/../b",
		"a//b",
		"a/./b",
		"./a",
		"a/",
		`a\b`,
		`..\x`,
		`C:\x`,
	} {
		t.Run(name, func(t *testing.T) {
			sent := 0
			w := export.NewWriter(func(string, []byte) error { sent++; return nil })
			err := w.Copy(name, strings.NewReader("data"))
			if err == nil {
				t.Fatalf("%q accepted", name)
			}
			if sent != 0 {
				t.Fatalf("%q: %d chunks sent", name, sent)
			}
			// A file name may be personal data: errors never name it.
			if name != "" && name != "." && strings.Contains(err.Error(), name) {
				t.Fatalf("the error names the path: %v", err)
			}
			if err := w.JSON(name, map[string]int{"a": 1}); err == nil || sent != 0 {
				t.Fatalf("JSON: %q accepted (%v), %d chunks sent", name, err, sent)
			}
		})
	}
}

func TestCopyAcceptsNamesWithinTheFolder(t *testing.T) {
	for _, name := range []string{"a.json", "dir/sub/file.pdf", "..a", "a..b", "a/..b", ".hidden", "with space.txt"} {
		t.Run(name, func(t *testing.T) {
			var r recorder
			if err := export.NewWriter(r.send).Copy(name, strings.NewReader("x")); err != nil {
				t.Fatalf("%q refused: %v", name, err)
			}
			if len(r.chunks) != 1 || r.chunks[0].path != name {
				t.Fatalf("chunks %+v", r.chunks)
			}
		})
	}
}

// failingReader yields its data, then its error.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestCopyErrors(t *testing.T) {
	boom := errors.New("boom")
	t.Run("send", func(t *testing.T) {
		calls := 0
		w := export.NewWriter(func(string, []byte) error { calls++; return boom })
		err := w.Copy("secret-name.bin", bytes.NewReader(random(3*chunkSize)))
		if !errors.Is(err, boom) || calls != 1 {
			t.Fatalf("err %v after %d sends, want boom after 1", err, calls)
		}
		if strings.Contains(err.Error(), "secret-name") {
			t.Fatalf("the error names the path: %v", err)
		}
	})
	t.Run("read", func(t *testing.T) {
		var r recorder
		w := export.NewWriter(r.send)
		err := w.Copy("secret-name.bin", &failingReader{data: random(chunkSize + 5), err: boom})
		if !errors.Is(err, boom) {
			t.Fatalf("err %v, want boom", err)
		}
		if strings.Contains(err.Error(), "secret-name") {
			t.Fatalf("the error names the path: %v", err)
		}
		// What was read before the failure went out; the file ends there.
		if len(r.chunks) != 2 || len(r.chunks[0].data) != chunkSize || len(r.chunks[1].data) != 5 {
			t.Fatalf("chunks before the failure: %d", len(r.chunks))
		}
	})
}

func TestJSON(t *testing.T) {
	var r recorder
	w := export.NewWriter(r.send)
	if err := w.JSON("profile.json", map[string]any{"name": "Ada", "tags": []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"name\": \"Ada\",\n  \"tags\": [\n    \"a\"\n  ]\n}\n"
	if len(r.chunks) != 1 || r.chunks[0].path != "profile.json" || string(r.chunks[0].data) != want {
		t.Fatalf("chunks %q", r.chunks)
	}
	if err := w.JSON("bad.json", make(chan int)); err == nil {
		t.Fatal("an unmarshalable value was written")
	}
	if len(r.chunks) != 1 {
		t.Fatalf("a failed JSON sent %d chunks", len(r.chunks)-1)
	}
}

// file is one file a part writes through a Writer.
type file struct {
	name string
	data []byte
}

// part is a Part whose files are written through a Writer, as a service
// writes them onto its stream.
func part(t *testing.T, folder string, files ...file) export.Part {
	t.Helper()
	var r recorder
	w := export.NewWriter(r.send)
	for _, f := range files {
		if err := w.Copy(f.name, bytes.NewReader(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	return export.Part{Folder: folder, Open: func() (export.Next, error) { return next(r.chunks), nil }}
}

func TestZip(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 8, 0, time.FixedZone("CET", 3600))
	scan := random(600 << 10)
	readme := "Your data.\nOne folder per service.\n"
	parts := []export.Part{
		part(t, "records",
			file{"summary.json", []byte(`{"a":1}` + "\n")},
			file{"scans/scan.dcm", scan},
			file{"notes.txt", []byte(strings.Repeat("note ", 1000))},
			file{"empty.txt", nil},
			file{"table.CSV", []byte("a,b\n1,2\n")},
			file{"photo.JPG", []byte("jpeg")},
			file{"report.pdf", []byte("%PDF")},
			file{"noext", []byte("x")},
		),
		part(t, "nothing"),
		part(t, "cases", file{"case.json", []byte("{}")}, file{"scan.dcm", scan[:10]}),
	}
	var out bytes.Buffer
	if err := export.Zip(&out, at, readme, parts); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatalf("read the archive: %v", err)
	}
	want := []struct {
		name   string
		method uint16
		data   []byte
	}{
		{"README.txt", zip.Deflate, []byte(readme)},
		{"records/summary.json", zip.Deflate, []byte(`{"a":1}` + "\n")},
		{"records/scans/scan.dcm", zip.Store, scan},
		{"records/notes.txt", zip.Deflate, []byte(strings.Repeat("note ", 1000))},
		{"records/empty.txt", zip.Deflate, nil},
		{"records/table.CSV", zip.Deflate, []byte("a,b\n1,2\n")},
		{"records/photo.JPG", zip.Store, []byte("jpeg")},
		{"records/report.pdf", zip.Store, []byte("%PDF")},
		{"records/noext", zip.Store, []byte("x")},
		{"cases/case.json", zip.Deflate, []byte("{}")},
		{"cases/scan.dcm", zip.Store, scan[:10]},
	}
	if len(zr.File) != len(want) {
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		t.Fatalf("files %q, want %d", names, len(want))
	}
	for i, w := range want {
		f := zr.File[i]
		if f.Name != w.name {
			t.Errorf("file %d is %q, want %q", i, f.Name, w.name)
			continue
		}
		if f.Method != w.method {
			t.Errorf("%s: method %d, want %d", f.Name, f.Method, w.method)
		}
		if !f.Modified.Equal(at) {
			t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, at)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		got, err := io.ReadAll(rc) // checks the CRC too
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if !bytes.Equal(got, w.data) {
			t.Errorf("%s: %d bytes read back differ from the %d written", f.Name, len(got), len(w.data))
		}
	}
	// The notes compress: deflating them did happen.
	if f := zr.File[3]; f.CompressedSize64 >= f.UncompressedSize64 {
		t.Errorf("notes.txt not compressed: %d of %d bytes", f.CompressedSize64, f.UncompressedSize64)
	}
}

// A part that fails in any way leaves the archive without its central
// directory: a truncated bundle can never pass for a whole one.
func TestZipLeavesFailedArchiveUnfinished(t *testing.T) {
	boom := errors.New("boom")
	good := func(t *testing.T) export.Part {
		return part(t, "good", file{"a.json", []byte("{}")}, file{"b.bin", random(chunkSize + 1)})
	}
	stream := func(folder string, chunks []chunk, err error) export.Part {
		return export.Part{Folder: folder, Open: func() (export.Next, error) {
			n := next(chunks)
			return func() (string, []byte, error) {
				p, d, e := n()
				if errors.Is(e, io.EOF) && err != nil {
					return "", nil, err
				}
				return p, d, e
			}, nil
		}}
	}
	for _, tc := range []struct {
		name   string
		parts  func(t *testing.T) []export.Part
		is     error  // the cause the error wraps, if any
		secret string // a name the error must not contain
	}{
		{"open fails", func(t *testing.T) []export.Part {
			return []export.Part{good(t), {Folder: "bad", Open: func() (export.Next, error) { return nil, boom }}}
		}, boom, ""},
		{"stream fails mid-file", func(t *testing.T) []export.Part {
			return []export.Part{good(t), stream("bad", []chunk{{"x.bin", []byte("half")}}, boom)}
		}, boom, ""},
		{"stream fails first", func(t *testing.T) []export.Part {
			return []export.Part{stream("bad", nil, boom), good(t)}
		}, boom, ""},
		{"chunk continues no file", func(t *testing.T) []export.Part {
			return []export.Part{stream("bad", []chunk{{"", []byte("orphan")}}, nil)}
		}, nil, ""},
		// The file a part ends in is not the next part's to continue.
		{"chunk continues the previous part's file", func(t *testing.T) []export.Part {
			return []export.Part{good(t), stream("bad", []chunk{{"", []byte("orphan")}}, nil)}
		}, nil, ""},
		{"name leaves the folder", func(t *testing.T) []export.Part {
			return []export.Part{good(t), stream("bad", []chunk{{"../good/secret-name.json", []byte("{}")}}, nil)}
		}, nil, "secret-name"},
		{"absolute name", func(t *testing.T) []export.Part {
			return []export.Part{stream("bad", []chunk{{"/etc/secret-name", []byte("x")}}, nil)}
		}, nil, "secret-name"},
		{"unclean name after a good file", func(t *testing.T) []export.Part {
			return []export.Part{stream("bad", []chunk{{"ok.txt", []byte("x")}, {"a//secret-name", []byte("x")}}, nil)}
		}, nil, "secret-name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := export.Zip(&out, time.Now(), "readme", tc.parts(t))
			if err == nil {
				t.Fatal("the archive was finished")
			}
			if !strings.Contains(err.Error(), "bad") {
				t.Errorf("the error does not name the part's folder: %v", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("the error does not wrap the part's: %v", err)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("the error names the path: %v", err)
			}
			if _, err := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len())); err == nil {
				t.Fatal("the unfinished archive reads as a whole one")
			}
		})
	}
}

// A part is opened only once the ones before it are written, and not at
// all after a failure.
func TestZipOpensPartsInTurn(t *testing.T) {
	var opened []string
	open := func(folder string, err error) export.Part {
		return export.Part{Folder: folder, Open: func() (export.Next, error) {
			opened = append(opened, folder)
			return next(nil), err
		}}
	}
	err := export.Zip(io.Discard, time.Now(), "", []export.Part{open("a", nil), open("b", errors.New("boom")), open("c", nil)})
	if err == nil || strings.Join(opened, ",") != "a,b" {
		t.Fatalf("err %v, opened %q", err, opened)
	}
}

// The archive's writer failing fails Zip.
func TestZipWriteError(t *testing.T) {
	boom := errors.New("disk full")
	err := export.Zip(failingWriter{boom}, time.Now(), "readme", []export.Part{part(t, "p", file{"a.bin", random(chunkSize)})})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want the writer's", err)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }
