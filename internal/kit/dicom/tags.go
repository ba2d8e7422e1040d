package dicom

import "fmt"

// tag is a data element tag: group in the high 16 bits, element in the low.
// As a number it sorts the way DICOM orders elements in a data set.
type tag uint32

func (t tag) group() uint16   { return uint16(t >> 16) }
func (t tag) element() uint16 { return uint16(t) }

func (t tag) String() string { return fmt.Sprintf("(%04X,%04X)", t.group(), t.element()) }

// isPrivate reports whether t is in an odd group, where vendors put their own
// attributes (and their private creator elements).
func (t tag) isPrivate() bool { return t.group()&1 == 1 }

// Tags the code refers to by name.
const (
	tagMetaGroupLength            tag = 0x0002_0000
	tagMetaVersion                tag = 0x0002_0001
	tagMediaStorageSOPClassUID    tag = 0x0002_0002
	tagMediaStorageSOPInstanceUID tag = 0x0002_0003
	tagTransferSyntaxUID          tag = 0x0002_0010
	tagImplementationClassUID     tag = 0x0002_0012
	tagImplementationVersionName  tag = 0x0002_0013

	tagSpecificCharacterSet   tag = 0x0008_0005
	tagSOPClassUID            tag = 0x0008_0016
	tagSOPInstanceUID         tag = 0x0008_0018
	tagStudyDate              tag = 0x0008_0020
	tagModality               tag = 0x0008_0060
	tagCodeValue              tag = 0x0008_0100
	tagCodingSchemeDesignator tag = 0x0008_0102
	tagCodeMeaning            tag = 0x0008_0104
	tagStudyDescription       tag = 0x0008_1030
	tagSeriesDescription      tag = 0x0008_103E
	tagPatientName            tag = 0x0010_0010
	tagPatientID              tag = 0x0010_0020
	tagPatientIdentityRemoved tag = 0x0012_0062
	tagDeidentMethod          tag = 0x0012_0063
	tagDeidentMethodCodeSeq   tag = 0x0012_0064
	tagBodyPartExamined       tag = 0x0018_0015
	tagStudyInstanceUID       tag = 0x0020_000D
	tagSeriesInstanceUID      tag = 0x0020_000E
	tagNumberOfFrames         tag = 0x0028_0008
	tagRows                   tag = 0x0028_0010
	tagColumns                tag = 0x0028_0011
	tagBurnedInAnnotation     tag = 0x0028_0301
	tagFloatPixelData         tag = 0x7FE0_0008
	tagDoubleFloatPixelData   tag = 0x7FE0_0009
	tagPixelData              tag = 0x7FE0_0010

	tagItem      tag = 0xFFFE_E000
	tagItemDelim tag = 0xFFFE_E00D
	tagSeqDelim  tag = 0xFFFE_E0DD
)

// undefinedLength marks a sequence, item or encapsulated pixel data whose end
// is a delimiter rather than a byte count.
const undefinedLength uint32 = 0xFFFF_FFFF

// isPixelTag reports whether t holds pixel samples: the values we stream
// instead of holding in memory, and where ReadMetadata stops.
func isPixelTag(t tag) bool {
	return t == tagPixelData || t == tagFloatPixelData || t == tagDoubleFloatPixelData
}

// knownVRs are the value representations of PS3.5 Table 6.2-1, each mapped
// to itself so that the decoder can turn two bytes into a shared string
// without allocating.
var knownVRs = func() map[string]string {
	m := make(map[string]string)
	for _, vr := range []string{
		"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT",
		"OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST",
		"SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV",
	} {
		m[vr] = vr
	}
	return m
}()

// hasLongLength reports whether, in Explicit VR, vr is encoded with two
// reserved bytes and a 32-bit length (PS3.5 7.1.2) rather than a 16-bit one.
func hasLongLength(vr string) bool {
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		return true
	}
	return false
}

// fixedSize is the size of one value of a binary VR, 0 for string VRs.
func fixedSize(vr string) int {
	switch vr {
	case "OB", "UN":
		return 1
	case "AT", "FL", "SL", "UL", "OF", "OL":
		return 4
	case "SS", "US", "OW":
		return 2
	case "FD", "SV", "UV", "OD", "OV":
		return 8
	}
	return 0
}

// action is a Table E.1-1 action code.
type action uint8

const (
	actRetain  action = iota // not in the table: kept, sequences recursed
	actD                     // replace with a dummy value of the VR
	actZ                     // replace with a zero-length value
	actX                     // remove
	actK                     // keep (sequences recursed)
	actC                     // clean: applied as X, see doc.go
	actU                     // replace UIDs consistently
	actZD                    // Z/D
	actXZ                    // X/Z
	actXD                    // X/D
	actXZD                   // X/Z/D
	actXZUStar               // X/Z/U*
	actInvalid               // a typo in the table; tests fail on it
)

var actionCodes = map[string]action{
	"": actRetain, "D": actD, "Z": actZ, "X": actX, "K": actK, "C": actC, "U": actU,
	"Z/D": actZD, "X/Z": actXZ, "X/D": actXD, "X/Z/D": actXZD, "X/Z/U*": actXZUStar,
}

// resolve returns the single action we apply for a, one of actRetain, actD,
// actZ, actX or actU. A compound code chooses by the attribute's type in the
// IOD, which we do not model, so we take its last alternative: the one the
// profile allows whatever that type is.
func (a action) resolve() action {
	switch a {
	case actZD, actXD, actXZD:
		return actD
	case actXZ:
		return actZ
	case actXZUStar, actK:
		return actRetain
	case actC, actInvalid:
		return actX
	}
	return a
}

// entry is what the table says about one tag.
type entry struct {
	vr      string
	action  action
	keyword string
}

var dictionary = func() map[tag]entry {
	m := make(map[tag]entry, len(table))
	for _, s := range table {
		a, ok := actionCodes[s.action]
		if !ok {
			a = actInvalid
		}
		m[s.tag] = entry{vr: s.vr, action: a, keyword: s.keyword}
	}
	return m
}()

// implicitVR is the VR an Implicit VR data set leaves out: the dictionary's,
// LO for private creators, UL for group lengths, UN for anything else.
func implicitVR(t tag) string {
	if e, ok := dictionary[t]; ok {
		return e.vr
	}
	switch el := t.element(); {
	case el == 0x0000:
		return "UL"
	case t.isPrivate() && el >= 0x0010 && el <= 0x00FF:
		return "LO"
	}
	return "UN"
}
