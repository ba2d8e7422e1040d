package dicom

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata holds a few KiB of files that dcmtk made from a synthetic image
// and fake identifiers (TestDcmtkRoundTrip with DICOM_WRITE_TESTDATA=1
// refreshes them), so that files from another implementation are read on
// machines without dcmtk too.

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFixtures(t *testing.T) {
	newOne := ""
	for _, c := range []struct{ file, ts string }{
		{"one.jpeg.dcm", "1.2.840.10008.1.2.4.50"},
		{"one.explicit.dcm", tsExplicitLE},
		{"one.implicit.dcm", tsImplicitLE},
		{"one.deflated.dcm", tsDeflatedLE},
	} {
		t.Run(c.file, func(t *testing.T) {
			in := readFixture(t, c.file)
			md, err := ReadMetadata(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			if md.TransferSyntaxUID != c.ts || md.Modality != "OT" || md.BodyPartExamined != "CHEST" ||
				md.StudyDescription != "CT CHEST Jane" || md.StudyDate != "20240102" ||
				md.Rows != 48 || md.Columns != 64 || md.NumberOfFrames != 1 || !md.HasPixelData ||
				md.SOPClassUID != "1.2.840.10008.5.1.4.1.1.7" {
				t.Errorf("metadata %+v", md)
			}

			out, rep := deidentify(t, in, Options{})
			p, orig := parseFile(t, out), parseFile(t, in)
			text := p.allText()
			for _, id := range plantedValues {
				if strings.Contains(text, id) {
					t.Errorf("%q survived", id)
				}
			}
			if rep.PrivateRemoved != 2 || p.meta[tagTransferSyntaxUID] != c.ts {
				t.Errorf("report %+v", rep)
			}
			a, b := find(orig.elems, tagPixelData), find(p.elems, tagPixelData)
			if a == nil || b == nil || !bytes.Equal(a.value, b.value) || len(a.frags) != len(b.frags) {
				t.Fatal("pixel data changed")
			}
			for i := range a.frags {
				if !bytes.Equal(a.frags[i], b.frags[i]) {
					t.Errorf("fragment %d changed", i)
				}
			}
			// Every syntax of one instance maps to the same new UID.
			if newOne == "" {
				newOne = p.str(tagSOPInstanceUID)
			} else if p.str(tagSOPInstanceUID) != newOne {
				t.Error("the same instance got another UID in another syntax")
			}
		})
	}

	one := parseFile(t, first(deidentify(t, readFixture(t, "one.jpeg.dcm"), Options{})))
	two := parseFile(t, first(deidentify(t, readFixture(t, "two.jpeg.dcm"), Options{})))
	if one.str(tagStudyInstanceUID) != two.str(tagStudyInstanceUID) || one.str(tagSeriesInstanceUID) != two.str(tagSeriesInstanceUID) {
		t.Error("the files of one study no longer share their study and series")
	}
	if two.str(0x00081140, 0x00081155) != one.str(tagSOPInstanceUID) {
		t.Error("two's reference does not resolve to one's new SOP Instance UID")
	}
}
