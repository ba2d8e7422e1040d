package dicom

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
)

// Options configure Deidentify.
type Options struct {
	// UIDKey is the secret new UIDs are derived from; at least 16 bytes.
	// Use one key per case (or per study): the files de-identified under it
	// keep consistent references to each other, and nothing links them to
	// files de-identified under another key. Whoever holds the key can
	// confirm a guessed original UID, so keep it as secret as the originals.
	UIDKey []byte
	// PatientName, if set, replaces Patient's Name (0010,0010) — a
	// pseudonym such as the case number — instead of the profile's empty
	// value. At most 64 printable ASCII characters, no backslash.
	PatientName string
	// PatientID, if set, replaces Patient ID (0010,0020) instead of the
	// profile's dummy value. Same rules as PatientName.
	PatientID string
	// Limits bound memory; zero fields take the defaults.
	Limits Limits
}

// Report says what Deidentify did to one file.
type Report struct {
	TransferSyntaxUID string
	SOPClassUID       string
	// The de-identified UIDs, as written.
	SOPInstanceUID    string
	StudyInstanceUID  string
	SeriesInstanceUID string

	Removed        int // attributes removed (X), private ones included
	PrivateRemoved int // of which private
	Emptied        int // attributes given a zero-length value (Z)
	Replaced       int // attributes given a dummy or pseudonym (D)
	UIDsRemapped   int // UID values replaced (U, and D on UIDs)

	// PixelDataBytes counts the pixel data value bytes copied unchanged
	// (fragment payloads, for encapsulated pixel data).
	PixelDataBytes        int64
	EncapsulatedPixelData bool
	// BurnedInAnnotation is Burned In Annotation (0028,0301) as the file
	// states it: "YES", "NO", or "" when absent. The pixels are not
	// scanned; a caller that must not pass on burned-in text should hold
	// back anything but "NO".
	BurnedInAnnotation string
}

// ErrUIDKey is returned when Options.UIDKey is shorter than 16 bytes.
var ErrUIDKey = errors.New("dicom: Options.UIDKey must hold at least 16 bytes")

const (
	// deidentificationMethod is written to (0012,0063).
	deidentificationMethod = "PS3.15 Basic Application Confidentiality Profile"
	// streamThreshold is the size above which a retained top-level value is
	// copied through rather than held in memory.
	streamThreshold = 1 << 20
	// maxHead bounds the output held back until the SOP Instance UID is
	// known (see run.flush).
	maxHead = 1 << 20
	// maxCachedUIDs bounds the memo of remapped UIDs.
	maxCachedUIDs = 1 << 14
)

// Deidentify copies the Part 10 file src to dst with the Basic Application
// Level Confidentiality Profile applied (see the package documentation),
// in the same transfer syntax. Pixel data is streamed, not held in memory.
// On error, dst holds a partial file that must be discarded.
func Deidentify(dst io.Writer, src io.Reader, opts Options) (Report, error) {
	if len(opts.UIDKey) < 16 {
		return Report{}, ErrUIDKey
	}
	if err := checkPseudonym(opts.PatientName); err != nil {
		return Report{}, fmt.Errorf("dicom: Options.PatientName: %w", err)
	}
	if err := checkPseudonym(opts.PatientID); err != nil {
		return Report{}, fmt.Errorf("dicom: Options.PatientID: %w", err)
	}
	ds, err := openDataset(src, opts.Limits.withDefaults())
	if err != nil {
		return Report{}, err
	}
	defer ds.close()
	r := &run{
		z:    &deidentifier{opts: opts, uids: make(map[string]string)},
		ds:   ds,
		out:  bufio.NewWriterSize(dst, readBufSize),
		head: new(bytes.Buffer),
	}
	r.z.rep.TransferSyntaxUID = ds.meta.transferSyntax
	r.enc = &encoder{w: r.head, explicit: ds.syntax.explicit}
	err = r.run()
	return r.z.rep, err
}

func checkPseudonym(s string) error {
	if len(s) > 64 {
		return errors.New("longer than 64 characters")
	}
	for _, c := range []byte(s) {
		if c < 0x20 || c > 0x7E || c == '\\' {
			return fmt.Errorf("character %q not allowed", c)
		}
	}
	return nil
}

// run is one Deidentify call: the data set is read and written one
// top-level element at a time.
type run struct {
	z   *deidentifier
	ds  *dataset
	out *bufio.Writer
	enc *encoder
	fw  *flate.Writer
	// head holds the start of the data set until the new SOP Instance UID
	// is known, so that the File Meta, written first, can carry it even if
	// the original meta disagreed with the data set.
	head    *bytes.Buffer
	flushed bool
	marked  bool // the de-identification markers are written
}

func (r *run) run() error {
	dec := r.ds.dec
	for {
		eof, err := dec.atEOF()
		if err != nil {
			return err
		}
		if eof {
			break
		}
		h, err := dec.readHeader(noLimit)
		if err != nil {
			return err
		}
		if h.tag.group() == 0xFFFE {
			return dec.errorf(ErrMalformed, "%s outside a sequence", h.tag)
		}
		if !r.flushed && (h.tag > tagSOPInstanceUID || r.head.Len() > maxHead) {
			if err := r.flush(); err != nil {
				return err
			}
		}
		if !r.marked && h.tag > tagDeidentMethodCodeSeq {
			if err := r.writeMarkers(); err != nil {
				return err
			}
		}
		if err := r.element(h); err != nil {
			return err
		}
	}
	if !r.flushed {
		if err := r.flush(); err != nil {
			return err
		}
	}
	if !r.marked {
		if err := r.writeMarkers(); err != nil {
			return err
		}
	}
	if r.fw != nil {
		if err := r.fw.Close(); err != nil {
			return writeError{err}
		}
	}
	if err := r.out.Flush(); err != nil {
		return writeError{err}
	}
	return nil
}

// flush writes the File Meta and what the data set held back so far; from
// then on elements go straight to the output.
func (r *run) flush() error {
	r.flushed = true
	z, meta := r.z, r.ds.meta
	inst := z.rep.SOPInstanceUID
	if inst == "" && meta.sopInstanceUID != "" {
		inst = z.remap(meta.sopInstanceUID)
	}
	class := meta.sopClassUID
	if class == "" {
		class = z.rep.SOPClassUID
	}
	if err := writeMeta(r.out, class, inst, meta.transferSyntax); err != nil {
		return err
	}
	var body io.Writer = r.out
	if r.ds.syntax.deflated {
		// BestSpeed: on a 100 MiB data set the default level ran at 18 MB/s
		// here, BestSpeed at 150 MB/s, for an output a little larger.
		fw, err := flate.NewWriter(r.out, flate.BestSpeed)
		if err != nil {
			return err
		}
		r.fw, body = fw, fw
	}
	if _, err := body.Write(r.head.Bytes()); err != nil {
		return writeError{err}
	}
	r.head = nil
	r.enc.w = body
	return nil
}

// writeMarkers writes Patient Identity Removed, De-identification Method and
// its code sequence (PS3.15 E.1.1), in tag order with the rest.
func (r *run) writeMarkers() error {
	r.marked = true
	code := &item{elems: []*element{
		{tag: tagCodeValue, vr: "SH", value: padText("113100")},
		{tag: tagCodingSchemeDesignator, vr: "SH", value: padText("DCM")},
		{tag: tagCodeMeaning, vr: "LO", value: padText("Basic Application Confidentiality Profile")},
	}}
	for _, el := range []*element{
		{tag: tagPatientIdentityRemoved, vr: "CS", value: padText("YES")},
		{tag: tagDeidentMethod, vr: "LO", value: padText(deidentificationMethod)},
		{tag: tagDeidentMethodCodeSeq, vr: "SQ", items: []*item{code}},
	} {
		if err := r.enc.writeElement(el); err != nil {
			return err
		}
	}
	return nil
}

// element processes one top-level element whose header has been read.
func (r *run) element(h header) error {
	z, dec := r.z, r.ds.dec
	dec.budget = dec.lim.MaxElementBytes
	switch h.tag {
	case tagPatientIdentityRemoved, tagDeidentMethod, tagDeidentMethodCodeSeq:
		// Ours replace whatever an earlier de-identification wrote.
		_, err := dec.readElement(h, 0, noLimit, false)
		return err
	}
	act := actionFor(h.tag)
	isSeq := h.vr == "SQ" || h.vr == "UN" && h.length == undefinedLength
	switch {
	case act == actX:
		z.countRemoved(h.tag)
		_, err := dec.readElement(h, 0, noLimit, false)
		return err
	case act == actRetain && !isSeq && isPixelTag(h.tag):
		return r.stream(h)
	case act == actRetain && !isSeq && h.length != undefinedLength && h.length > streamThreshold &&
		!(h.vr == "UN" && dec.peekItemTag()):
		return r.stream(h)
	}
	// Values we replace without looking at them are skipped, not read:
	// a dummy for a 1 GB Encapsulated Document costs nothing.
	needValue := act == actRetain || act == actU || act == actD && vrOf(h.tag, h.vr) == "UI"
	var el *element
	if needValue {
		var err error
		if el, err = dec.readElement(h, 0, noLimit, true); err != nil {
			return err
		}
	} else {
		if _, err := dec.readElement(h, 0, noLimit, false); err != nil {
			return err
		}
		el = &element{tag: h.tag, vr: h.vr, undef: h.length == undefinedLength}
		if isSeq {
			el.vr = "SQ"
		}
	}
	if !z.apply(el, act) {
		return nil
	}
	switch el.tag {
	case tagSOPClassUID:
		z.rep.SOPClassUID = trimValue(el.value)
	case tagSOPInstanceUID:
		z.rep.SOPInstanceUID = trimValue(el.value)
	case tagStudyInstanceUID:
		z.rep.StudyInstanceUID = trimValue(el.value)
	case tagSeriesInstanceUID:
		z.rep.SeriesInstanceUID = trimValue(el.value)
	case tagBurnedInAnnotation:
		z.rep.BurnedInAnnotation = trimValue(el.value)
	}
	return r.enc.writeElement(el)
}

// stream copies a retained top-level value from input to output without
// holding it: pixel data, native or encapsulated, and other large values.
func (r *run) stream(h header) error {
	if !r.flushed {
		if err := r.flush(); err != nil {
			return err
		}
	}
	enc, dec, rep := r.enc, r.ds.dec, &r.z.rep
	pixels := isPixelTag(h.tag)
	if h.length != undefinedLength {
		if err := enc.writeHeader(h.tag, h.vr, h.length); err != nil {
			return err
		}
		if pixels {
			rep.PixelDataBytes += int64(h.length)
		}
		return dec.copyTo(enc.w, int64(h.length))
	}
	if h.tag != tagPixelData || h.vr != "OB" && h.vr != "OW" {
		return dec.errorf(ErrMalformed, "undefined length for %s %s", h.tag, h.vr)
	}
	// Encapsulated pixel data (PS3.5 A.4): items (the Basic Offset Table,
	// then fragments) up to a sequence delimiter, copied as they are.
	rep.EncapsulatedPixelData = true
	if err := enc.writeHeader(h.tag, h.vr, undefinedLength); err != nil {
		return err
	}
	for {
		ih, err := dec.readHeader(noLimit)
		if err != nil {
			return err
		}
		switch ih.tag {
		case tagSeqDelim:
			return enc.writeHeader(tagSeqDelim, "", 0)
		case tagItem:
			if ih.length == undefinedLength {
				return dec.errorf(ErrMalformed, "pixel data fragment of undefined length")
			}
			if err := enc.writeHeader(tagItem, "", ih.length); err != nil {
				return err
			}
			rep.PixelDataBytes += int64(ih.length)
			if err := dec.copyTo(enc.w, int64(ih.length)); err != nil {
				return err
			}
		default:
			return dec.errorf(ErrMalformed, "%s among pixel data fragments", ih.tag)
		}
	}
}

// deidentifier applies the profile to elements held in memory.
type deidentifier struct {
	opts Options
	uids map[string]string
	rep  Report
}

// actionFor is the resolved action for t: the table's, and X for what the
// package documentation says we remove beyond it.
func actionFor(t tag) action {
	g := t.group()
	switch {
	case t.isPrivate(),
		t.element() == 0x0000,      // group lengths, stale once we change anything
		g == 0x0000 || g == 0x0002, // command and File Meta groups do not belong in a data set
		g >= 0x5000 && g <= 0x50FF, // curves: Curve Data (50xx,xxxx) is X
		g >= 0x6000 && g <= 0x60FF: // overlays: their data and comments are X, and the rest means nothing without them
		return actX
	}
	if e, ok := dictionary[t]; ok {
		return e.action.resolve()
	}
	return actRetain
}

// vrOf is the VR that says what a value holds: the dictionary's when the
// file only says UN.
func vrOf(t tag, vr string) string {
	if vr == "UN" {
		if e, ok := dictionary[t]; ok {
			return e.vr
		}
	}
	return vr
}

func (z *deidentifier) countRemoved(t tag) {
	if t.element() == 0x0000 {
		return // a group length is no attribute
	}
	z.rep.Removed++
	if t.isPrivate() {
		z.rep.PrivateRemoved++
	}
}

// apply applies act to el, recursing into retained sequences, and reports
// whether el stays.
func (z *deidentifier) apply(el *element, act action) bool {
	if act != actX {
		switch {
		case el.tag == tagPatientName && z.opts.PatientName != "":
			z.replace(el, padText(z.opts.PatientName))
			return true
		case el.tag == tagPatientID && z.opts.PatientID != "":
			z.replace(el, padText(z.opts.PatientID))
			return true
		}
	}
	switch act {
	case actX:
		z.countRemoved(el.tag)
		return false
	case actZ:
		z.rep.Emptied++
		el.value, el.items, el.frags, el.encap = nil, nil, nil, false
	case actD:
		switch vrOf(el.tag, el.vr) {
		case "SQ":
			// One empty item: non-empty, as D asks, and nothing of the
			// original content left.
			el.items = []*item{{undef: el.undef}}
		case "UI":
			if !z.remapUIDs(el) {
				z.countRemoved(el.tag)
				return false
			}
		default:
			el.value = dummyValue(vrOf(el.tag, el.vr), len(el.value))
			el.frags, el.encap = nil, false
		}
		z.rep.Replaced++
	case actU:
		if !z.remapUIDs(el) {
			z.countRemoved(el.tag)
			return false
		}
	default:
		if el.unparsed {
			z.countRemoved(el.tag)
			return false
		}
		for _, it := range el.items {
			kept := it.elems[:0]
			for _, child := range it.elems {
				if z.apply(child, actionFor(child.tag)) {
					kept = append(kept, child)
				}
			}
			it.elems = kept
		}
	}
	return true
}

func (z *deidentifier) replace(el *element, v []byte) {
	z.rep.Replaced++
	el.value, el.items, el.frags, el.encap = v, nil, nil, false
	if el.vr == "SQ" {
		// A file that calls the name a sequence gets the VR it should
		// have had.
		el.vr = dictionary[el.tag].vr
	}
}

// remapUIDs replaces each UID of a (possibly multi-valued) UID element. It
// reports false for an element that is no UID value at all (a sequence
// where the dictionary says UI), which the caller drops.
func (z *deidentifier) remapUIDs(el *element) bool {
	if el.vr == "SQ" || el.encap {
		return false
	}
	parts := strings.Split(string(el.value), `\`)
	for i, p := range parts {
		p = strings.Trim(p, " \x00")
		if p == "" {
			parts[i] = ""
			continue
		}
		parts[i] = z.remap(p)
		z.rep.UIDsRemapped++
	}
	el.value = padUID(strings.Join(parts, `\`))
	return true
}

func (z *deidentifier) remap(uid string) string {
	if v, ok := z.uids[uid]; ok {
		return v
	}
	v := RemapUID(z.opts.UIDKey, uid)
	if len(z.uids) < maxCachedUIDs {
		z.uids[uid] = v
	}
	return v
}

// uidLabel separates this use of the key from any other HMAC the caller
// might compute with it.
const uidLabel = "secondopinion/dicom/uid\x00"

// RemapUID is the UID that Deidentify writes for uid under key:
// "2.25." followed by the decimal value of HMAC-SHA-256 over a fixed label
// and uid, truncated to 128 bits and given the version and variant bits of
// a version 8 UUID (RFC 9562), as PS3.5 B.2 wants of 2.25 UIDs. At most 44
// characters. Leading and trailing padding of uid is the caller's to strip.
func RemapUID(key []byte, uid string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(uidLabel))
	m.Write([]byte(uid))
	sum := m.Sum(nil)[:16]
	sum[6] = sum[6]&0x0F | 0x80
	sum[8] = sum[8]&0x3F | 0x80
	return "2.25." + new(big.Int).SetBytes(sum).String()
}

// dummyValue is the D replacement for a value of vr that had n bytes: text
// that identifies nobody and fits the VR, or zeros.
func dummyValue(vr string, n int) []byte {
	switch vr {
	case "DA":
		return []byte("19000101")
	case "TM":
		return []byte("000000")
	case "DT":
		return []byte("19000101000000")
	case "DS", "IS":
		return []byte("0 ")
	case "AS":
		return []byte("000Y")
	case "AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT":
		return []byte("ANONYMIZED")
	case "OB", "OD", "OF", "OL", "OV", "OW", "UN":
		// A blob (say an Encapsulated Document) becomes one zero value.
		return make([]byte, max(fixedSize(vr), 2))
	}
	size := fixedSize(vr)
	if size == 0 {
		return []byte("ANONYMIZED")
	}
	// Numbers keep their multiplicity, zeroed.
	m := n - n%size
	if m == 0 {
		m = size
	}
	return make([]byte, m)
}

// Kept reports whether Deidentify keeps attribute (group, element) as it
// is: what a reader of de-identified data may be shown of a file. The
// descriptions and dates a scanner writes are not: they may name the
// patient.
func Kept(group, element uint16) bool {
	return actionFor(tag(uint32(group)<<16|uint32(element))) == actRetain
}
