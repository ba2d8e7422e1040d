package dicom

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func deidentify(t testing.TB, in []byte, opts Options) ([]byte, Report) {
	t.Helper()
	if opts.UIDKey == nil {
		opts.UIDKey = testKey
	}
	var out bytes.Buffer
	rep, err := Deidentify(&out, bytes.NewReader(in), opts)
	if err != nil {
		t.Fatalf("Deidentify: %v", err)
	}
	return out.Bytes(), rep
}

// identifiers are the values sampleDS plants; none may survive.
var identifiers = []string{
	"Doe^Jane", "Jane", "PID123", "19800101", "General Hospital", "Main Street", "Smith^John",
	"ACC999", "OTHERID7", "044Y", "Elm Road", "555-1234", "STUDY77", "CT-ROOM-7", "SN-42",
	"Nested^Name", "private secret", "ACME", "HOSPITAL_PACS", "20240102", "101010",
	studyUID, seriesUID, instUID1, instUID2, frameOfRef,
}

func TestDeidentifyRemovesIdentifiers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		explicit bool
		ts       string
	}{
		{"explicit", true, tsExplicitLE},
		{"implicit", false, tsImplicitLE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := part10(tc.ts, ctClass, instUID1, sampleDS(tc.explicit, instUID1, samplePixels))
			out, rep := deidentify(t, in, Options{})
			p := parseFile(t, out)

			if bytes.Count(p.preamble, []byte{0}) != 128 {
				t.Error("preamble not zeroed")
			}
			text := p.allText()
			for _, id := range identifiers {
				if strings.Contains(text, id) {
					t.Errorf("identifier %q survived", id)
				}
			}
			walk(p.elems, func(el *element) {
				if el.tag.isPrivate() {
					t.Errorf("private %s survived", el.tag)
				}
				if el.tag.group() == 0x6000 {
					t.Errorf("overlay %s survived", el.tag)
				}
			})

			checks := map[string][2]string{
				"Patient's Name (Z)":           {p.str(tagPatientName), ""},
				"Patient ID (Z/D → D)":         {p.str(tagPatientID), "ANONYMIZED"},
				"Birth Date (Z)":               {p.str(0x00100030), ""},
				"Sex (Z)":                      {p.str(0x00100040), ""},
				"Accession (Z)":                {p.str(0x00080050), ""},
				"Study Date (Z)":               {p.str(tagStudyDate), ""},
				"Referring (Z)":                {p.str(0x00080090), ""},
				"Instance Creation Date (X/D)": {p.str(0x00080012), "19000101"},
				"Institution Name (X/Z/D)":     {p.str(0x00080080), "ANONYMIZED"},
				"Station Name (X/Z/D)":         {p.str(0x00081010), "ANONYMIZED"},
				"Institution Address (X)":      {p.str(0x00080081), "<absent>"},
				"Other Patient IDs (X)":        {p.str(0x00101000), "<absent>"},
				"Patient's Age (X)":            {p.str(0x00101010), "<absent>"},
				"Study Description (X)":        {p.str(tagStudyDescription), "<absent>"},
				"Image Comments (X)":           {p.str(0x00204000), "<absent>"},
				"nested name (Z)":              {p.str(0x00081115, tagPatientName), ""},
				"Modality kept":                {p.str(tagModality), "CT"},
				"Body Part kept":               {p.str(tagBodyPartExamined), "CHEST"},
				"SOP Class kept":               {p.str(tagSOPClassUID), ctClass},
				"nested SOP Class kept":        {p.str(0x00081115, 0x00081140, 0x00081150), ctClass},
				"Identity Removed":             {p.str(tagPatientIdentityRemoved), "YES"},
				"Method":                       {p.str(tagDeidentMethod), deidentificationMethod},
				"Method code":                  {p.str(tagDeidentMethodCodeSeq, tagCodeValue), "113100"},
				"meta TS":                      {p.meta[tagTransferSyntaxUID], tc.ts},
				"meta instance = SOP instance": {p.meta[tagMediaStorageSOPInstanceUID], p.str(tagSOPInstanceUID)},
				"meta class":                   {p.meta[tagMediaStorageSOPClassUID], ctClass},
				"meta implementation":          {p.meta[tagImplementationClassUID], implementationClassUID},
			}
			for name, c := range checks {
				if c[0] != c[1] {
					t.Errorf("%s: got %q, want %q", name, c[0], c[1])
				}
			}
			if _, ok := p.meta[0x00020016]; ok {
				t.Error("Source AE Title kept in the File Meta")
			}

			for _, path := range [][]tag{
				{tagSOPInstanceUID}, {tagStudyInstanceUID}, {tagSeriesInstanceUID}, {0x00200052},
				{0x00081115, tagSeriesInstanceUID}, {0x00081115, 0x00081140, 0x00081155},
			} {
				if u := p.str(path...); !strings.HasPrefix(u, "2.25.") || !isValidUID(u) {
					t.Errorf("UID at %v: %q", path, u)
				}
			}
			if got, want := p.str(tagStudyInstanceUID), RemapUID(testKey, studyUID); got != want {
				t.Errorf("Study Instance UID %q, want %q", got, want)
			}
			if p.str(0x00081115, tagSeriesInstanceUID) != p.str(tagSeriesInstanceUID) {
				t.Error("the nested reference to our own series no longer matches it")
			}

			if px := find(p.elems, tagPixelData); px == nil || !bytes.Equal(px.value, samplePixels) {
				t.Errorf("pixel data changed: %v", px)
			}

			want := Report{
				TransferSyntaxUID: tc.ts, SOPClassUID: ctClass,
				SOPInstanceUID:    RemapUID(testKey, instUID1),
				StudyInstanceUID:  RemapUID(testKey, studyUID),
				SeriesInstanceUID: RemapUID(testKey, seriesUID),
				PixelDataBytes:    int64(len(samplePixels)), BurnedInAnnotation: "NO",
			}
			got := rep
			got.Removed, got.PrivateRemoved, got.Emptied, got.Replaced, got.UIDsRemapped = 0, 0, 0, 0, 0
			if got != want {
				t.Errorf("report\n got %+v\nwant %+v", got, want)
			}
			if rep.PrivateRemoved != 2 || rep.Removed < 10 || rep.Emptied < 6 || rep.Replaced < 4 || rep.UIDsRemapped != 6 {
				t.Errorf("counts: %+v", rep)
			}
		})
	}
}

func TestUIDsConsistentWithinAKeyOnly(t *testing.T) {
	// Two instances of one series: the second references the first.
	one := part10(tsExplicitLE, ctClass, instUID1, sampleDS(true, instUID1, samplePixels))
	two := part10(tsExplicitLE, ctClass, instUID2, sampleDS(true, instUID2, samplePixels))
	p1 := parseFile(t, first(deidentify(t, one, Options{})))
	p2 := parseFile(t, first(deidentify(t, two, Options{})))

	for _, path := range [][]tag{{tagStudyInstanceUID}, {tagSeriesInstanceUID}, {0x00200052}} {
		if p1.str(path...) != p2.str(path...) {
			t.Errorf("%v differs between files of one study", path)
		}
	}
	if p1.str(tagSOPInstanceUID) == p2.str(tagSOPInstanceUID) {
		t.Error("two instances got one SOP Instance UID")
	}
	// sampleDS references instUID2 from every file.
	if ref := p1.str(0x00081115, 0x00081140, 0x00081155); ref != p2.str(tagSOPInstanceUID) {
		t.Errorf("reference %q does not point at the other file's new UID %q", ref, p2.str(tagSOPInstanceUID))
	}

	other := parseFile(t, first(deidentify(t, one, Options{UIDKey: []byte("another-case-key-0000")})))
	if other.str(tagStudyInstanceUID) == p1.str(tagStudyInstanceUID) {
		t.Error("another key gave the same Study Instance UID")
	}
}

func first[A, B any](a A, _ B) A { return a }

func TestRemapUID(t *testing.T) {
	in, out := map[string]bool{}, map[string]bool{}
	for i := range 1000 {
		uid := fmt.Sprintf("1.2.840.%d.%d", i%97, i)
		u := RemapUID(testKey, uid)
		if !isValidUID(u) || len(u) > 44 || !strings.HasPrefix(u, "2.25.") {
			t.Fatalf("bad UID %q", u)
		}
		in[uid], out[u] = true, true
	}
	if len(out) != len(in) {
		t.Errorf("%d distinct UIDs became %d", len(in), len(out))
	}
	uid := "1.2.3"
	if a, b := RemapUID(testKey, uid), RemapUID(append([]byte(nil), testKey...), uid); a != b {
		t.Error("not deterministic")
	}
	if RemapUID(testKey, "1.2.3") == RemapUID([]byte("other-key-0123456789"), "1.2.3") {
		t.Error("the key does not matter")
	}
}

func TestDeidentifyOptions(t *testing.T) {
	in := part10(tsExplicitLE, ctClass, instUID1, sampleDS(true, instUID1, samplePixels))
	p := parseFile(t, first(deidentify(t, in, Options{PatientName: "CASE-2024-000123", PatientID: "CASE-2024-000123"})))
	if p.str(tagPatientName) != "CASE-2024-000123" || p.str(tagPatientID) != "CASE-2024-000123" {
		t.Errorf("pseudonyms not applied: %q %q", p.str(tagPatientName), p.str(tagPatientID))
	}
	// A name nested in a sequence is the patient's too.
	if got := p.str(0x00081115, tagPatientName); got != "CASE-2024-000123" {
		t.Errorf("nested name %q", got)
	}

	for _, bad := range []Options{
		{UIDKey: []byte("short")},
		{UIDKey: testKey, PatientName: `a\b`},
		{UIDKey: testKey, PatientID: strings.Repeat("x", 65)},
		{UIDKey: testKey, PatientID: "tab\there"},
	} {
		if _, err := Deidentify(&bytes.Buffer{}, bytes.NewReader(in), bad); err == nil {
			t.Errorf("options %+v accepted", bad)
		}
	}
	if _, err := Deidentify(&bytes.Buffer{}, bytes.NewReader(in), Options{}); !errors.Is(err, ErrUIDKey) {
		t.Errorf("no key: %v", err)
	}
}

func TestDeidentifyEncapsulatedPassesThrough(t *testing.T) {
	frag1 := append([]byte{0xFF, 0xD8}, bytes.Repeat([]byte{0xAB}, 1001)...) // odd: fragments are what they are
	frag1 = append(frag1, 0xFF, 0xD9)
	frag2 := bytes.Repeat([]byte{0x11, 0x22}, 300)
	d := explicitDS().
		str(0x00080016, "UI", ctClass).
		str(0x00080018, "UI", instUID1).
		str(0x00100010, "PN", "Doe^Jane").
		encapsulated(frag1, frag2)
	in := part10("1.2.840.10008.1.2.4.50", ctClass, instUID1, d.bytes())
	out, rep := deidentify(t, in, Options{})
	p := parseFile(t, out)
	px := find(p.elems, tagPixelData)
	if px == nil || !px.encap || len(px.frags) != 3 || len(px.frags[0]) != 0 ||
		!bytes.Equal(px.frags[1], frag1) || !bytes.Equal(px.frags[2], frag2) {
		t.Fatalf("fragments changed: %+v", px)
	}
	if !rep.EncapsulatedPixelData || rep.PixelDataBytes != int64(len(frag1)+len(frag2)) {
		t.Errorf("report %+v", rep)
	}
	// The whole pixel element is byte-identical at the end of the file.
	tail := in[bytes.Index(in, []byte{0xE0, 0x7F, 0x10, 0x00}):]
	if !bytes.HasSuffix(out, tail) {
		t.Error("pixel data bytes differ")
	}
}

func TestDeidentifyDeflated(t *testing.T) {
	in := part10(tsDeflatedLE, ctClass, instUID1, deflate(t, sampleDS(true, instUID1, samplePixels)))
	out, _ := deidentify(t, in, Options{})
	md, err := ReadMetadata(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if md.TransferSyntaxUID != tsDeflatedLE || md.Modality != "CT" || md.SOPInstanceUID != RemapUID(testKey, instUID1) {
		t.Errorf("metadata of deflated output: %+v", md)
	}
	p := parseFile(t, out)
	if strings.Contains(p.allText(), "Doe^Jane") {
		t.Error("name survived")
	}
	if px := find(p.elems, tagPixelData); px == nil || !bytes.Equal(px.value, samplePixels) {
		t.Error("pixel data changed")
	}
}

func TestDeidentifySequenceLengthsAndNesting(t *testing.T) {
	for _, defined := range []bool{true, false} {
		for _, explicit := range []bool{true, false} {
			d := &ds{explicit: explicit}
			leaf := d.sub().str(0x00081150, "UI", ctClass).str(0x00081155, "UI", instUID2).str(0x00100010, "PN", "Deep^Name")
			mid := d.sub().seq(0x00081140, defined, leaf, leaf).str(0x0020000E, "UI", seriesUID)
			d.str(0x00080018, "UI", instUID1)
			d.seq(0x00081115, defined, mid, d.sub())
			// Referenced Image Sequence is X/Z/U*: kept, UIDs remapped.
			d.seq(0x00081140, defined, leaf)
			// Referenced Study Sequence is X/Z: emptied.
			d.seq(0x00081110, defined, leaf)
			// Request Attributes Sequence is X: removed with all it holds.
			d.seq(0x00400275, defined, mid)
			// Content Sequence is D: one empty item.
			d.seq(0x0040A730, defined, leaf, leaf)
			ts := tsExplicitLE
			if !explicit {
				ts = tsImplicitLE
			}
			p := parseFile(t, first(deidentify(t, part10(ts, ctClass, instUID1, d.bytes()), Options{})))
			name := map[bool]string{true: "defined", false: "undefined"}[defined]

			rs := find(p.elems, 0x00081115)
			if rs == nil || len(rs.items) != 2 || rs.undef == defined {
				t.Fatalf("%s: Referenced Series Sequence %+v", name, rs)
			}
			ri := find(rs.items[0].elems, 0x00081140)
			if ri == nil || len(ri.items) != 2 {
				t.Fatalf("%s: nested sequence lost", name)
			}
			for _, it := range ri.items {
				if u := trimValue(find(it.elems, 0x00081155).value); u != RemapUID(testKey, instUID2) {
					t.Errorf("%s: nested UID %q", name, u)
				}
				if n := trimValue(find(it.elems, tagPatientName).value); n != "" {
					t.Errorf("%s: nested name %q", name, n)
				}
			}
			if el := find(p.elems, 0x00081140); el == nil || len(el.items) != 1 || p.str(0x00081140, 0x00081155) != RemapUID(testKey, instUID2) {
				t.Errorf("%s: X/Z/U* sequence: %+v", name, el)
			}
			if el := find(p.elems, 0x00081110); el == nil || len(el.items) != 0 {
				t.Errorf("%s: X/Z sequence not emptied: %+v", name, el)
			}
			if find(p.elems, 0x00400275) != nil {
				t.Errorf("%s: X sequence kept", name)
			}
			if el := find(p.elems, 0x0040A730); el == nil || len(el.items) != 1 || len(el.items[0].elems) != 0 {
				t.Errorf("%s: D sequence: %+v", name, el)
			}
		}
	}
}

// A sequence we have no dictionary entry for must still be parsed, so that
// what it holds goes through the profile: in Implicit VR it is an unknown
// tag, in Explicit VR a converter may have written it as UN, with a defined
// or undefined length (then its content is Implicit VR, PS3.5 6.2.2).
func TestUnknownSequencesAreParsed(t *testing.T) {
	unknown := uint32(0x00231234) - 0x00010000 // an even group: public, not in our table
	if _, ok := dictionary[tag(unknown)]; ok {
		t.Fatal("pick another tag")
	}
	inner := implicitDS().str(0x00100010, "PN", "Hidden^Name").str(0x00081155, "UI", instUID2)

	implicitSeq := implicitDS()
	implicitSeq.seq(unknown, true, inner)
	explicitUNDefined := explicitDS()
	explicitUNDefined.raw(unknown, "UN", implicitDS().seq(0xFFFFFFFF, true, inner).bytes()[8:])
	explicitUNUndefined := explicitDS()
	explicitUNUndefined.header(unknown, "UN", 0xFFFFFFFF)
	explicitUNUndefined.buf.Write(implicitDS().seq(0xFFFFFFFF, false, inner).bytes()[8:])

	for name, c := range map[string]struct {
		ts   string
		data []byte
	}{
		"implicit unknown tag":      {tsImplicitLE, implicitSeq.bytes()},
		"explicit UN defined len":   {tsExplicitLE, explicitUNDefined.bytes()},
		"explicit UN undefined len": {tsExplicitLE, explicitUNUndefined.bytes()},
	} {
		t.Run(name, func(t *testing.T) {
			out, _ := deidentify(t, part10(c.ts, ctClass, instUID1, c.data), Options{})
			p := parseFile(t, out)
			if strings.Contains(p.allText(), "Hidden") {
				t.Error("name inside an unknown sequence survived")
			}
			if got := p.str(tag(unknown), 0x00081155); got != RemapUID(testKey, instUID2) {
				t.Errorf("UID inside an unknown sequence: %q", got)
			}
		})
	}

	// A UN that starts like a sequence but is not one is dropped.
	bogus := explicitDS()
	bogus.raw(unknown, "UN", []byte{0xFE, 0xFF, 0x00, 0xE0, 0x10, 0, 0, 0, 'J', 'a', 'n', 'e'})
	p := parseFile(t, first(deidentify(t, part10(tsExplicitLE, ctClass, instUID1, bogus.bytes()), Options{})))
	if find(p.elems, tag(unknown)) != nil {
		t.Error("unparseable sequence-like UN kept")
	}
}

func TestDeidentifyKeepsTagOrderAndFixesMeta(t *testing.T) {
	// The meta disagrees with the data set: the output's meta follows the
	// data set's new UID.
	in := part10(tsExplicitLE, ctClass, "9.9.9", sampleDS(true, instUID1, samplePixels))
	p := parseFile(t, first(deidentify(t, in, Options{})))
	if p.meta[tagMediaStorageSOPInstanceUID] != RemapUID(testKey, instUID1) {
		t.Errorf("meta instance %q", p.meta[tagMediaStorageSOPInstanceUID])
	}
	for i := 1; i < len(p.elems); i++ {
		if p.elems[i-1].tag >= p.elems[i].tag {
			t.Errorf("%s written after %s", p.elems[i].tag, p.elems[i-1].tag)
		}
	}
}

func TestDeidentifyIsIdempotentOnItsOutput(t *testing.T) {
	in := part10(tsExplicitLE, ctClass, instUID1, sampleDS(true, instUID1, samplePixels))
	once, _ := deidentify(t, in, Options{})
	twice, rep := deidentify(t, once, Options{})
	p1, p2 := parseFile(t, once), parseFile(t, twice)
	if len(p1.elems) != len(p2.elems) {
		t.Errorf("second pass changed the element count: %d → %d", len(p1.elems), len(p2.elems))
	}
	if rep.PrivateRemoved != 0 {
		t.Errorf("private elements in our own output: %+v", rep)
	}
}
