package dicom

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"testing"
)

// The tests build their fixtures byte by byte with this builder, which
// shares no code with the encoder under test: a bug in one does not hide a
// bug in the other.

// ds builds a data set in one transfer syntax.
type ds struct {
	explicit bool
	buf      bytes.Buffer
}

func explicitDS() *ds { return &ds{explicit: true} }
func implicitDS() *ds { return &ds{} }

func (d *ds) bytes() []byte { return d.buf.Bytes() }

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func (d *ds) tag(t uint32) {
	d.buf.Write(le16(uint16(t >> 16)))
	d.buf.Write(le16(uint16(t)))
}

// header writes a header with an explicit length (0xFFFFFFFF: undefined).
func (d *ds) header(t uint32, vr string, length uint32) *ds {
	d.tag(t)
	if !d.explicit {
		d.buf.Write(le32(length))
		return d
	}
	d.buf.WriteString(vr)
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		d.buf.Write([]byte{0, 0})
		d.buf.Write(le32(length))
	default:
		d.buf.Write(le16(uint16(length)))
	}
	return d
}

// raw writes an element with v as is (no padding).
func (d *ds) raw(t uint32, vr string, v []byte) *ds {
	d.header(t, vr, uint32(len(v)))
	d.buf.Write(v)
	return d
}

// str writes a string element padded as PS3.5 says.
func (d *ds) str(t uint32, vr, s string) *ds {
	v := []byte(s)
	if len(v)%2 == 1 {
		if vr == "UI" {
			v = append(v, 0)
		} else {
			v = append(v, ' ')
		}
	}
	return d.raw(t, vr, v)
}

func (d *ds) us(t uint32, v uint16) *ds { return d.raw(t, "US", le16(v)) }

// itemHeader and delimiters carry no VR in any syntax.
func (d *ds) itemTag(t uint32, length uint32) *ds {
	d.tag(t)
	d.buf.Write(le32(length))
	return d
}

// seq writes a sequence of items built by the callers; defined chooses
// defined lengths for the sequence and its items.
func (d *ds) seq(t uint32, defined bool, items ...*ds) *ds {
	var body bytes.Buffer
	for _, it := range items {
		if defined {
			body.Write(le16(0xFFFE))
			body.Write(le16(0xE000))
			body.Write(le32(uint32(it.buf.Len())))
			body.Write(it.bytes())
		} else {
			body.Write(le16(0xFFFE))
			body.Write(le16(0xE000))
			body.Write(le32(0xFFFFFFFF))
			body.Write(it.bytes())
			body.Write(le16(0xFFFE))
			body.Write(le16(0xE00D))
			body.Write(le32(0))
		}
	}
	if defined {
		d.header(t, "SQ", uint32(body.Len()))
		d.buf.Write(body.Bytes())
		return d
	}
	d.header(t, "SQ", 0xFFFFFFFF)
	d.buf.Write(body.Bytes())
	d.itemTag(0xFFFEE0DD, 0)
	return d
}

// sub is an item body in the same syntax as d.
func (d *ds) sub() *ds { return &ds{explicit: d.explicit} }

// encapsulated writes undefined-length pixel data: an empty Basic Offset
// Table, then frags.
func (d *ds) encapsulated(frags ...[]byte) *ds {
	d.header(0x7FE00010, "OB", 0xFFFFFFFF)
	d.itemTag(0xFFFEE000, 0)
	for _, f := range frags {
		d.itemTag(0xFFFEE000, uint32(len(f)))
		d.buf.Write(f)
	}
	d.itemTag(0xFFFEE0DD, 0)
	return d
}

// part10 wraps a data set in a preamble and File Meta. The meta instance UID
// is instUID; ts decides nothing about how data was built, the caller does.
func part10(ts, classUID, instUID string, data []byte) []byte {
	meta := explicitDS()
	meta.raw(0x00020001, "OB", []byte{0, 1})
	meta.str(0x00020002, "UI", classUID)
	meta.str(0x00020003, "UI", instUID)
	meta.str(0x00020010, "UI", ts)
	meta.str(0x00020012, "UI", "1.2.3.4")
	meta.str(0x00020013, "SH", "TESTBUILDER")
	meta.str(0x00020016, "AE", "HOSPITAL_PACS")
	var out bytes.Buffer
	out.Write(bytes.Repeat([]byte{'P'}, 128)) // a preamble with content: it must not survive
	out.WriteString("DICM")
	gl := explicitDS().raw(0x00020000, "UL", le32(uint32(meta.buf.Len())))
	out.Write(gl.bytes())
	out.Write(meta.bytes())
	out.Write(data)
	return out.Bytes()
}

func deflate(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const (
	ctClass    = "1.2.840.10008.5.1.4.1.1.2"
	studyUID   = "1.2.826.0.1.3680043.2.1125.1.1"
	seriesUID  = "1.2.826.0.1.3680043.2.1125.1.2"
	instUID1   = "1.2.826.0.1.3680043.2.1125.1.3"
	instUID2   = "1.2.826.0.1.3680043.2.1125.1.4"
	frameOfRef = "1.2.826.0.1.3680043.2.1125.1.5"
)

var testKey = []byte("case-KEY-0123456789abcdef")

// sampleDS is a CT-like data set full of identifiers, in either syntax,
// with native pixel data of pixels (8-bit, 4×2).
func sampleDS(explicit bool, inst string, pixels []byte) []byte {
	d := &ds{explicit: explicit}
	d.str(0x00080005, "CS", "ISO_IR 100")
	d.str(0x00080008, "CS", `ORIGINAL\PRIMARY\AXIAL`)
	d.str(0x00080012, "DA", "20240102") // Instance Creation Date X/D
	d.str(0x00080016, "UI", ctClass)
	d.str(0x00080018, "UI", inst)
	d.str(0x00080020, "DA", "20240102") // Study Date Z
	d.str(0x00080030, "TM", "101010")
	d.str(0x00080050, "SH", "ACC999")
	d.str(0x00080060, "CS", "CT")
	d.str(0x00080080, "LO", "General Hospital")
	d.str(0x00080081, "ST", "1 Main Street, Springfield")
	d.str(0x00080090, "PN", "Smith^John")
	d.str(0x00081010, "SH", "CT-ROOM-7")
	d.str(0x00081030, "LO", "CT CHEST W CONTRAST")
	d.str(0x0008103E, "LO", "AXIAL 5MM")
	// Referenced Series Sequence is kept, recursively: its UIDs remapped,
	// an identifier slipped into it removed.
	ref := d.sub().str(0x00081150, "UI", ctClass).str(0x00081155, "UI", instUID2)
	rs := d.sub().seq(0x00081140, true, ref).
		str(0x00100010, "PN", "Nested^Name").
		str(0x0020000E, "UI", seriesUID)
	d.seq(0x00081115, false, rs)
	d.str(0x00090010, "LO", "ACME 1.0")
	d.str(0x00091001, "LO", "private secret")
	d.str(0x00100010, "PN", "Doe^Jane")
	d.str(0x00100020, "LO", "PID123")
	d.str(0x00100030, "DA", "19800101")
	d.str(0x00100040, "CS", "F")
	d.str(0x00101000, "LO", "OTHERID7")
	d.str(0x00101010, "AS", "044Y")
	d.str(0x00101040, "LO", "22 Elm Road")
	d.str(0x00102154, "SH", "555-1234")
	d.str(0x00104000, "LT", "patient comment: call Jane")
	d.str(0x00180015, "CS", "CHEST")
	d.str(0x00181000, "LO", "SN-42")
	d.str(0x0020000D, "UI", studyUID)
	d.str(0x0020000E, "UI", seriesUID)
	d.str(0x00200010, "SH", "STUDY77")
	d.str(0x00200052, "UI", frameOfRef)
	d.str(0x00204000, "LT", "image comment Jane Doe")
	d.us(0x00280002, 1)
	d.str(0x00280004, "CS", "MONOCHROME2")
	d.str(0x00280008, "IS", "1")
	d.us(0x00280010, 2)
	d.us(0x00280011, 4)
	d.us(0x00280100, 8)
	d.us(0x00280101, 8)
	d.us(0x00280102, 7)
	d.us(0x00280103, 0)
	d.str(0x00280301, "CS", "NO")
	d.raw(0x60003000, "OW", []byte{1, 2, 3, 4})
	d.raw(0x7FE00010, "OW", pixels)
	return d.bytes()
}

var samplePixels = []byte{1, 2, 3, 4, 5, 6, 7, 8}
