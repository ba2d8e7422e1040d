package dicom

import "testing"

func TestKept(t *testing.T) {
	for _, c := range []struct {
		group, element uint16
		kept           bool
	}{
		{0x0008, 0x0060, true},  // Modality
		{0x0018, 0x0015, true},  // Body Part Examined
		{0x0028, 0x0010, true},  // Rows
		{0x0010, 0x0010, false}, // Patient's Name
		{0x0010, 0x0030, false}, // Patient's Birth Date
		{0x0008, 0x1030, false}, // Study Description
		{0x0008, 0x0020, false}, // Study Date
		{0x0009, 0x0010, false}, // a private creator
		{0x0002, 0x0010, false}, // File Meta: not part of a data set
	} {
		if got := Kept(c.group, c.element); got != c.kept {
			t.Errorf("Kept(%04X,%04X) = %v, want %v", c.group, c.element, got, c.kept)
		}
	}
}
