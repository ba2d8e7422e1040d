package dicom

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

func TestReadMetadata(t *testing.T) {
	explicit := sampleDS(true, instUID1, samplePixels)
	for name, in := range map[string][]byte{
		"explicit": part10(tsExplicitLE, ctClass, instUID1, explicit),
		"implicit": part10(tsImplicitLE, ctClass, instUID1, sampleDS(false, instUID1, samplePixels)),
		"deflated": part10(tsDeflatedLE, ctClass, instUID1, deflate(t, explicit)),
	} {
		t.Run(name, func(t *testing.T) {
			md, err := ReadMetadata(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			want := Metadata{
				SOPClassUID: ctClass, SOPInstanceUID: instUID1, StudyInstanceUID: studyUID, SeriesInstanceUID: seriesUID,
				Modality: "CT", BodyPartExamined: "CHEST", StudyDescription: "CT CHEST W CONTRAST",
				SeriesDescription: "AXIAL 5MM", StudyDate: "20240102",
				Rows: 2, Columns: 4, NumberOfFrames: 1, HasPixelData: true,
			}
			md.TransferSyntaxUID = ""
			if md != want {
				t.Errorf("\n got %+v\nwant %+v", md, want)
			}
		})
	}
}

// errAfter fails any read: ReadMetadata must not get to it.
type errAfter struct{}

func (errAfter) Read([]byte) (int, error) { return 0, errors.New("read past the pixel data header") }

func TestReadMetadataStopsBeforePixels(t *testing.T) {
	d := explicitDS().str(0x00080060, "CS", "MR").us(0x00280010, 512).us(0x00280011, 256).str(0x00280008, "IS", "40")
	d.header(0x7FE00010, "OW", 0xFFFFFFF0) // four gigabytes of pixels that never come
	in := io.MultiReader(bytes.NewReader(part10(tsExplicitLE, "1.2.3", "1.2.3.4", d.bytes())), errAfter{})
	md, err := ReadMetadata(in)
	if err != nil {
		t.Fatal(err)
	}
	if md.Modality != "MR" || md.Rows != 512 || md.Columns != 256 || md.NumberOfFrames != 40 || !md.HasPixelData {
		t.Errorf("%+v", md)
	}
}

func TestReadMetadataCharacterSets(t *testing.T) {
	d := explicitDS().str(0x00080005, "CS", "ISO_IR 100").raw(0x00081030, "LO", []byte("T\xf6rax "))
	md, err := ReadMetadata(bytes.NewReader(part10(tsExplicitLE, "1.2.3", "1.2.3.4", d.bytes())))
	if err != nil || md.StudyDescription != "Törax" {
		t.Errorf("Latin-1: %q %v", md.StudyDescription, err)
	}
	d = explicitDS().raw(0x00081030, "LO", []byte("ok\xff\xfe"))
	md, _ = ReadMetadata(bytes.NewReader(part10(tsExplicitLE, "1.2.3", "1.2.3.4", d.bytes())))
	if md.StudyDescription != "ok\uFFFD" {
		t.Errorf("invalid bytes: %q", md.StudyDescription)
	}
}

func TestRejectsWhatItCannotRead(t *testing.T) {
	good := sampleDS(true, instUID1, samplePixels)
	for name, c := range map[string]struct {
		in   []byte
		want error
	}{
		"empty":             {nil, ErrNotPart10},
		"no DICM":           {append(make([]byte, 128), "DICX"...), ErrNotPart10},
		"bare data set":     {good, ErrNotPart10},
		"big endian":        {part10(tsExplicitBE, ctClass, instUID1, good), ErrUnsupportedTransferSyntax},
		"private syntax":    {part10("1.2.840.113619.5.2", ctClass, instUID1, good), ErrUnsupportedTransferSyntax},
		"no transfer synt.": {append(append(make([]byte, 128), "DICM"...), explicitDS().str(0x00020002, "UI", "1.2").bytes()...), ErrMalformed},
		"bad VR":            {part10(tsExplicitLE, ctClass, instUID1, []byte{8, 0, 0x60, 0, 'c', 's', 2, 0, 'C', 'T'}), ErrMalformed},
		"stray delimiter":   {part10(tsExplicitLE, ctClass, instUID1, explicitDS().itemTag(0xFFFEE0DD, 0).bytes()), ErrMalformed},
		"item overruns seq": {part10(tsExplicitLE, ctClass, instUID1, explicitDS().header(0x00081115, "SQ", 8).itemTag(0xFFFEE000, 100).bytes()), ErrMalformed},
		"value overruns item": {part10(tsExplicitLE, ctClass, instUID1,
			explicitDS().seq(0x00081115, true, explicitDS().header(0x00081150, "UI", 60)).bytes()), ErrMalformed},
		"undefined length string": {part10(tsExplicitLE, ctClass, instUID1, explicitDS().header(0x00100010, "UT", 0xFFFFFFFF).bytes()), ErrMalformed},
		"huge nested value": {part10(tsExplicitLE, ctClass, instUID1, explicitDS().header(0x00081115, "SQ", 0xFFFFFFFF).
			itemTag(0xFFFEE000, 0xFFFFFFFF).header(0x0040A160, "UT", 0x7FFFFFFF).bytes()), ErrLimit},
		"huge removed value": {part10(tsExplicitLE, ctClass, instUID1, explicitDS().header(0x00100010, "UT", 0x7FFFFFFF).bytes()), ErrTruncated},
		"truncated value":    {part10(tsExplicitLE, ctClass, instUID1, explicitDS().header(0x00100010, "UT", 0x00100000).bytes()), ErrTruncated},
		"corrupt deflate":    {part10(tsDeflatedLE, ctClass, instUID1, []byte{0xFF, 0xFF, 0xFF, 0xFF}), ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Deidentify(io.Discard, bytes.NewReader(c.in), Options{UIDKey: testKey})
			if !errors.Is(err, c.want) {
				t.Errorf("Deidentify: %v, want %v", err, c.want)
			}
			if _, err := ReadMetadata(bytes.NewReader(c.in)); err == nil {
				t.Errorf("ReadMetadata accepted it")
			}
		})
	}
}

// Every prefix of a valid file is an error (or, cut between elements, a
// shorter valid file), never a panic.
func TestTruncatedAnywhere(t *testing.T) {
	d := sampleDS(true, instUID1, samplePixels)
	files := [][]byte{
		part10(tsExplicitLE, ctClass, instUID1, d),
		part10(tsImplicitLE, ctClass, instUID1, sampleDS(false, instUID1, samplePixels)),
		part10(tsDeflatedLE, ctClass, instUID1, deflate(t, d)),
		part10("1.2.840.10008.1.2.4.50", ctClass, instUID1, explicitDS().str(0x00100010, "PN", "Doe").encapsulated([]byte{1, 2, 3, 4}).bytes()),
	}
	for i, f := range files {
		step := 1
		if i == 2 {
			step = 5 // each deflated prefix builds a compressor: sample them
		}
		for n := 0; n < len(f); n += step {
			_, err := Deidentify(io.Discard, bytes.NewReader(f[:n]), Options{UIDKey: testKey})
			if err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrNotPart10) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("prefix %d: unexpected error %v", n, err)
			}
			if _, err := ReadMetadata(bytes.NewReader(f[:n])); err != nil &&
				!errors.Is(err, ErrTruncated) && !errors.Is(err, ErrNotPart10) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("prefix %d: unexpected error %v", n, err)
			}
		}
	}
}

// allocated runs fn and returns how many bytes it allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Lengths are claims, not facts: a file that claims gigabytes but holds a
// few bytes costs a few bytes.
func TestAbsurdLengthsAllocateNothingBig(t *testing.T) {
	claims := map[string][]byte{
		"value":          explicitDS().header(0x00100010, "UT", 0x01FFFFFF).bytes(),
		"nested value":   explicitDS().header(0x00081115, "SQ", 0xFFFFFFFF).itemTag(0xFFFEE000, 0xFFFFFFFF).header(0x00081150, "UN", 0x01FFFFFE).bytes(),
		"fragment":       explicitDS().header(0x7FE00010, "OB", 0xFFFFFFFF).itemTag(0xFFFEE000, 0xFFFFFFF0).bytes(),
		"native pixels":  explicitDS().header(0x7FE00010, "OW", 0xFFFFFFF0).bytes(),
		"removed blob":   explicitDS().header(0x00420011, "OB", 0xFFFFFFF0).bytes(),
		"private blob":   explicitDS().header(0x00291010, "OB", 0xFFFFFFF0).bytes(),
		"retained blob":  explicitDS().header(0x00221010, "OB", 0xFFFFFFF0).bytes(),
		"implicit claim": implicitDS().header(0x00081115, "", 0x7FFFFFF0).bytes(),
	}
	for name, data := range claims {
		in := part10(tsExplicitLE, ctClass, instUID1, data)
		if name == "implicit claim" {
			in = part10(tsImplicitLE, ctClass, instUID1, data)
		}
		var err error
		n := allocated(func() { _, err = Deidentify(io.Discard, bytes.NewReader(in), Options{UIDKey: testKey}) })
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
		if n > 4<<20 {
			t.Errorf("%s: allocated %d bytes (%v)", name, n, err)
		}
		n = allocated(func() { _, _ = ReadMetadata(bytes.NewReader(in)) })
		if n > 4<<20 {
			t.Errorf("%s: ReadMetadata allocated %d bytes", name, n)
		}
	}
}

func TestDeepNestingIsRefused(t *testing.T) {
	// 10 000 nested undefined-length sequences, each in an item.
	var b bytes.Buffer
	for range 10000 {
		b.Write(explicitDS().header(0x00081115, "SQ", 0xFFFFFFFF).itemTag(0xFFFEE000, 0xFFFFFFFF).bytes())
	}
	in := part10(tsExplicitLE, ctClass, instUID1, b.Bytes())
	if _, err := Deidentify(io.Discard, bytes.NewReader(in), Options{UIDKey: testKey}); !errors.Is(err, ErrLimit) {
		t.Errorf("Deidentify: %v", err)
	}
	// Skipping (an X sequence, or ReadMetadata) has the same bound.
	in = bytes.Replace(in, []byte{0x08, 0x00, 0x15, 0x11}, []byte{0x40, 0x00, 0x75, 0x02}, 1)
	if _, err := Deidentify(io.Discard, bytes.NewReader(in), Options{UIDKey: testKey}); !errors.Is(err, ErrLimit) {
		t.Errorf("skipped sequence: %v", err)
	}
	if _, err := ReadMetadata(bytes.NewReader(in)); !errors.Is(err, ErrLimit) {
		t.Errorf("ReadMetadata: %v", err)
	}
	// Within the limit is fine.
	var ok bytes.Buffer
	for range 5 {
		ok.Write(explicitDS().header(0x00081115, "SQ", 0xFFFFFFFF).itemTag(0xFFFEE000, 0xFFFFFFFF).bytes())
	}
	for range 5 {
		ok.Write(explicitDS().itemTag(0xFFFEE00D, 0).itemTag(0xFFFEE0DD, 0).bytes())
	}
	if _, err := Deidentify(io.Discard, bytes.NewReader(part10(tsExplicitLE, ctClass, instUID1, ok.Bytes())), Options{UIDKey: testKey}); err != nil {
		t.Errorf("5 levels: %v", err)
	}
	lim := Options{UIDKey: testKey, Limits: Limits{MaxDepth: 4}}
	if _, err := Deidentify(io.Discard, bytes.NewReader(part10(tsExplicitLE, ctClass, instUID1, ok.Bytes())), lim); !errors.Is(err, ErrLimit) {
		t.Errorf("5 levels, MaxDepth 4: %v", err)
	}
}

func TestManyEmptyItemsHitTheMemoryLimit(t *testing.T) {
	var b bytes.Buffer
	b.Write(explicitDS().header(0x00081115, "SQ", 0xFFFFFFFF).bytes())
	empty := explicitDS().itemTag(0xFFFEE000, 0).bytes()
	b.Write(bytes.Repeat(empty, 20000))
	b.Write(explicitDS().itemTag(0xFFFEE0DD, 0).bytes())
	in := part10(tsExplicitLE, ctClass, instUID1, b.Bytes())
	opts := Options{UIDKey: testKey, Limits: Limits{MaxElementBytes: 1 << 20}}
	if _, err := Deidentify(io.Discard, bytes.NewReader(in), opts); !errors.Is(err, ErrLimit) {
		t.Errorf("%v", err)
	}
	opts.Limits = Limits{}
	if _, err := Deidentify(io.Discard, bytes.NewReader(in), opts); err != nil {
		t.Errorf("within the default limit: %v", err)
	}
}

func TestWriteErrorsAreReported(t *testing.T) {
	in := part10(tsExplicitLE, ctClass, instUID1, sampleDS(true, instUID1, bytes.Repeat([]byte{7}, 1<<20)))
	_, err := Deidentify(failingWriter{}, bytes.NewReader(in), Options{UIDKey: testKey})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("%v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// Pixel data goes from input to output without being held: de-identifying
// 100 MiB of pixels allocates a few hundred KiB.
func TestPixelDataIsStreamed(t *testing.T) {
	for _, encapsulated := range []bool{false, true} {
		segs := benchFile(true, encapsulated)
		var rep Report
		var err error
		n := allocated(func() { rep, err = Deidentify(io.Discard, newSynthetic(segs), Options{UIDKey: testKey}) })
		if err != nil {
			t.Fatal(err)
		}
		if rep.PixelDataBytes != 200*512*512*2 {
			t.Errorf("copied %d pixel bytes", rep.PixelDataBytes)
		}
		if n > 2<<20 {
			t.Errorf("encapsulated=%v: allocated %d bytes for %d bytes of pixels", encapsulated, n, rep.PixelDataBytes)
		}
	}
}
