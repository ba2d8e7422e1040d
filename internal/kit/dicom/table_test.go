package dicom

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

func TestTableIsWellFormed(t *testing.T) {
	for i, s := range table {
		if i > 0 && table[i-1].tag >= s.tag {
			t.Errorf("%s: not in ascending tag order, or a duplicate", s.tag)
		}
		if _, ok := knownVRs[s.vr]; !ok {
			t.Errorf("%s: VR %q", s.tag, s.vr)
		}
		if _, ok := actionCodes[s.action]; !ok {
			t.Errorf("%s: action %q is no Table E.1-1 code", s.tag, s.action)
		}
		if s.keyword == "" || strings.ContainsAny(s.keyword, " _") {
			t.Errorf("%s: keyword %q", s.tag, s.keyword)
		}
		if s.action == "U" && s.vr != "UI" {
			t.Errorf("%s: U on a %s", s.tag, s.vr)
		}
	}
	// The attributes the brief names are all acted on.
	for _, tg := range []tag{
		0x00100010, 0x00100020, 0x00100030, 0x00101040, 0x00102154, 0x00080080, 0x00080081,
		0x00080090, 0x00081050, 0x00081060, 0x00080050, 0x00101000, 0x00104000, 0x00204000,
		0x00080020, 0x0020000D, 0x0020000E, 0x00080018, 0x00020003,
	} {
		if dictionary[tg].action == actRetain {
			t.Errorf("%s is not in the profile table", tg)
		}
	}
}

// dcmtk ships the PS3.6 dictionary as text; where it is installed, our VRs
// and keywords must agree with it (dcmtk 3.6.7 predates a few 2024 tags,
// which are skipped).
func TestTableAgreesWithDcmtkDictionary(t *testing.T) {
	f, err := os.Open("/usr/share/libdcmtk17/dicom.dic")
	if err != nil {
		t.Skip("dcmtk's dicom.dic is not installed (apt-get install dcmtk)")
	}
	defer f.Close()
	type dcm struct{ vr, keyword string }
	dic := map[string]dcm{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) < 3 {
			continue
		}
		dic[strings.ToUpper(strings.Trim(fields[0], "()"))] = dcm{fields[1], strings.TrimPrefix(fields[2], "RETIRED_")}
	}
	checked := 0
	for _, s := range table {
		key := strings.ToUpper(strings.Trim(s.tag.String(), "()"))
		d, ok := dic[key]
		if !ok {
			continue
		}
		checked++
		vr := d.vr
		if vr == "ox" || vr == "px" { // dcmtk's "OB or OW"
			vr = "OW"
		}
		if vr != s.vr {
			t.Errorf("%s %s: VR %s, dcmtk says %s", s.tag, s.keyword, s.vr, d.vr)
		}
		if d.keyword != s.keyword {
			t.Errorf("%s: keyword %s, dcmtk says %s", s.tag, s.keyword, d.keyword)
		}
	}
	if checked < len(table)-30 {
		t.Errorf("only %d of %d rows found in dcmtk's dictionary", checked, len(table))
	}
}
