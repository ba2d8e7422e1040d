package dicom

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// Errors a caller can tell apart with errors.Is. Every error this package
// returns for bad input wraps one of the first five.
var (
	// ErrNotPart10 is returned when the stream does not start with a
	// 128-byte preamble followed by "DICM".
	ErrNotPart10 = errors.New("dicom: not a DICOM Part 10 stream")
	// ErrUnsupportedTransferSyntax is returned for Explicit VR Big Endian
	// and private transfer syntaxes.
	ErrUnsupportedTransferSyntax = errors.New("dicom: unsupported transfer syntax")
	// ErrTruncated is returned when the input ends inside an element.
	ErrTruncated = errors.New("dicom: truncated input")
	// ErrMalformed is returned for input that breaks the encoding rules:
	// lengths overrunning their item, stray delimiters, invalid VRs.
	ErrMalformed = errors.New("dicom: malformed input")
	// ErrLimit is returned when the input exceeds one of Limits.
	ErrLimit = errors.New("dicom: input exceeds a limit")
)

// Limits bound what a hostile file can make us hold in memory. Pixel data
// and large retained top-level values are streamed and not bounded by them.
// Zero fields take the defaults.
type Limits struct {
	// MaxValueBytes bounds one value held in memory (default 32 MiB).
	MaxValueBytes int64
	// MaxElementBytes bounds one top-level element held in memory with all
	// its nested sequences, counting a fixed overhead per element and item
	// (default 128 MiB).
	MaxElementBytes int64
	// MaxDepth bounds the nesting of sequences (default 32).
	MaxDepth int
}

const (
	defaultMaxValueBytes   = 32 << 20
	defaultMaxElementBytes = 128 << 20
	defaultMaxDepth        = 32

	// perNodeCost is what an element or item costs in memory besides its
	// value; charging it stops a file of millions of empty items from
	// growing a tree many times its own size.
	perNodeCost = 96

	// growStep is the largest buffer allocated before the bytes to fill it
	// have arrived; larger values grow as they are read.
	growStep = 64 << 10

	noLimit = math.MaxInt64
)

func (l Limits) withDefaults() Limits {
	if l.MaxValueBytes <= 0 {
		l.MaxValueBytes = defaultMaxValueBytes
	}
	if l.MaxElementBytes <= 0 {
		l.MaxElementBytes = defaultMaxElementBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultMaxDepth
	}
	return l
}

// element is one data element held in memory.
type element struct {
	tag   tag
	vr    string
	value []byte

	items []*item  // vr == "SQ"
	frags [][]byte // encapsulated: the Basic Offset Table, then the fragments
	encap bool     // an undefined-length OB/OW of fragments
	undef bool     // SQ written with undefined length, as it was read
	// unparsed marks a UN value that starts like a sequence but does not
	// parse as one: it might hide identifiers, so de-identification drops it.
	unparsed bool
}

type item struct {
	elems []*element
	undef bool
}

type header struct {
	tag    tag
	vr     string // "" for items and delimiters
	length uint32
}

// decoder reads a data set. pos is the offset in the stream it reads (the
// file, or the inflated data set for deflated files), for error messages and
// to check lengths against their enclosing item.
type decoder struct {
	r        *bufio.Reader
	pos      int64
	explicit bool
	lim      Limits
	budget   int64 // what the element being read may still hold in memory
	scratch  [12]byte
}

func (d *decoder) errorf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s (offset %d)", kind, fmt.Sprintf(format, args...), d.pos)
}

// readErr turns a read error into ours: running out of input is
// ErrTruncated, a corrupt deflate stream is ErrMalformed, anything else (the
// source's own failure) is passed on.
func (d *decoder) readErr(err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return d.errorf(ErrTruncated, "input ends inside an element")
	case errors.As(err, &corrupt):
		return d.errorf(ErrMalformed, "deflated data set: %v", err)
	}
	return fmt.Errorf("dicom: read: %w", err)
}

func (d *decoder) readFull(p []byte) error {
	n, err := io.ReadFull(d.r, p)
	d.pos += int64(n)
	if err != nil {
		return d.readErr(err)
	}
	return nil
}

// atEOF reports whether the data set ends here, between two elements.
func (d *decoder) atEOF() (bool, error) {
	_, err := d.r.Peek(1)
	if err == io.EOF {
		return true, nil
	}
	if err != nil {
		return false, d.readErr(err)
	}
	return false, nil
}

// peekItemTag reports whether the next bytes are an item tag: a UN value
// that starts so is probably a sequence.
func (d *decoder) peekItemTag() bool {
	b, err := d.r.Peek(4)
	return err == nil && isItemStart(b)
}

func isItemStart(b []byte) bool {
	return len(b) >= 4 && b[0] == 0xFE && b[1] == 0xFF && b[2] == 0x00 && b[3] == 0xE0
}

func (d *decoder) discard(n int64) error {
	for n > 0 {
		k := int(min(n, 1<<30))
		m, err := d.r.Discard(k)
		d.pos += int64(m)
		n -= int64(m)
		if err != nil {
			return d.readErr(err)
		}
	}
	return nil
}

// writeError marks an error from the destination, so that callers can tell
// it from one in the input.
type writeError struct{ err error }

func (e writeError) Error() string { return "dicom: write: " + e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

// copyTo copies n bytes to w straight out of the read buffer: no buffer of
// our own, however large n is.
func (d *decoder) copyTo(w io.Writer, n int64) error {
	for n > 0 {
		k := int(min(n, int64(d.r.Size())))
		b, perr := d.r.Peek(k)
		if len(b) > 0 {
			if _, err := w.Write(b); err != nil {
				return writeError{err}
			}
			m, _ := d.r.Discard(len(b))
			d.pos += int64(m)
			n -= int64(m)
		}
		if perr != nil && n > 0 {
			return d.readErr(perr)
		}
	}
	return nil
}

func (d *decoder) charge(n int64) error {
	d.budget -= n
	if d.budget < 0 {
		return d.errorf(ErrLimit, "element larger than %d bytes in memory", d.lim.MaxElementBytes)
	}
	return nil
}

// readValue reads a value of n bytes into memory. The length came from the
// input, so it is checked against the limits first and the buffer grows
// with the bytes that actually arrive: a lying length costs nothing.
func (d *decoder) readValue(n uint32) ([]byte, error) {
	if int64(n) > d.lim.MaxValueBytes {
		return nil, d.errorf(ErrLimit, "value of %d bytes (limit %d)", n, d.lim.MaxValueBytes)
	}
	if err := d.charge(int64(n)); err != nil {
		return nil, err
	}
	if n <= growStep {
		b := make([]byte, n)
		return b, d.readFull(b)
	}
	b := make([]byte, 0, growStep)
	for len(b) < int(n) {
		k := min(int(n)-len(b), max(len(b), growStep))
		b = slices.Grow(b, k)
		if err := d.readFull(b[len(b) : len(b)+k]); err != nil {
			return nil, err
		}
		b = b[:len(b)+k]
	}
	return b, nil
}

// readHeader reads an element, item or delimiter header that must end by
// limit.
func (d *decoder) readHeader(limit int64) (header, error) {
	if limit-d.pos < 8 {
		return header{}, d.errorf(ErrMalformed, "element header overruns its item")
	}
	b := d.scratch[:]
	if err := d.readFull(b[:4]); err != nil {
		return header{}, err
	}
	t := tag(uint32(binary.LittleEndian.Uint16(b[0:]))<<16 | uint32(binary.LittleEndian.Uint16(b[2:])))
	// Items and delimiters carry no VR in any transfer syntax.
	if t.group() == 0xFFFE || !d.explicit {
		if err := d.readFull(b[4:8]); err != nil {
			return header{}, err
		}
		h := header{tag: t, length: binary.LittleEndian.Uint32(b[4:])}
		if t.group() != 0xFFFE {
			h.vr = implicitVR(t)
		}
		return h, nil
	}
	if err := d.readFull(b[4:6]); err != nil {
		return header{}, err
	}
	vr, known := knownVRs[string(b[4:6])]
	if !known {
		if b[4] < 'A' || b[4] > 'Z' || b[5] < 'A' || b[5] > 'Z' {
			return header{}, d.errorf(ErrMalformed, "invalid VR %q for %s", b[4:6], t)
		}
		// PS3.5 6.2: VRs defined after this code was written all use the
		// 32-bit length form; we keep such a value as UN.
		vr = "UN"
	}
	if !known || hasLongLength(vr) {
		if limit-d.pos < 6 {
			return header{}, d.errorf(ErrMalformed, "element header overruns its item")
		}
		if err := d.readFull(b[6:12]); err != nil {
			return header{}, err
		}
		return header{tag: t, vr: vr, length: binary.LittleEndian.Uint32(b[8:])}, nil
	}
	if err := d.readFull(b[6:8]); err != nil {
		return header{}, err
	}
	return header{tag: t, vr: vr, length: uint32(binary.LittleEndian.Uint16(b[6:]))}, nil
}

// readElement reads the value that follows h, which must end by limit. With
// keep false it only skips it (and returns nil): we still parse
// undefined-length values, since nothing else says where they end.
func (d *decoder) readElement(h header, depth int, limit int64, keep bool) (*element, error) {
	var el *element
	if keep {
		if err := d.charge(perNodeCost); err != nil {
			return nil, err
		}
		el = &element{tag: h.tag, vr: h.vr}
	}
	if h.length == undefinedLength {
		switch {
		case h.vr == "SQ":
			return el, d.readSequence(el, h, depth, limit, keep)
		case h.vr == "UN":
			// PS3.5 6.2.2: a UN of undefined length is a sequence
			// encoded in Implicit VR Little Endian.
			was := d.explicit
			d.explicit = false
			err := d.readSequence(el, h, depth, limit, keep)
			d.explicit = was
			return el, err
		case h.tag == tagPixelData && (h.vr == "OB" || h.vr == "OW"):
			return el, d.readFragments(el, limit, keep)
		}
		return nil, d.errorf(ErrMalformed, "undefined length for %s %s", h.tag, h.vr)
	}
	if int64(h.length) > limit-d.pos {
		return nil, d.errorf(ErrMalformed, "%s value of %d bytes overruns its item", h.tag, h.length)
	}
	if h.vr == "SQ" {
		return el, d.readSequence(el, h, depth, limit, keep)
	}
	if !keep {
		return nil, d.discard(int64(h.length))
	}
	v, err := d.readValue(h.length)
	if err != nil {
		return nil, err
	}
	el.value = v
	if h.vr == "UN" && isItemStart(v) {
		// A sequence we have no dictionary entry for, or one a converter
		// wrote as UN: parse it so that the profile reaches its items.
		if seq, ok := d.parseNestedSequence(h.tag, v, depth); ok {
			return seq, nil
		}
		el.unparsed = true
	}
	return el, nil
}

// parseNestedSequence parses v, the value of a UN element, as a sequence in
// Implicit VR Little Endian (PS3.5 6.2.2). It reports false if v is not
// exactly that.
func (d *decoder) parseNestedSequence(t tag, v []byte, depth int) (*element, bool) {
	sub := &decoder{
		r:      bufio.NewReaderSize(bytes.NewReader(v), 16),
		lim:    d.lim,
		budget: d.budget,
	}
	el := &element{tag: t, vr: "SQ"}
	h := header{tag: t, vr: "SQ", length: uint32(len(v))}
	if err := sub.readSequence(el, h, depth, int64(len(v)), true); err != nil || sub.pos != int64(len(v)) {
		return nil, false
	}
	d.budget = sub.budget
	return el, true
}

// readSequence reads the items of a sequence. Items of an undefined-length
// sequence still end by limit when an enclosing item has a defined length.
func (d *decoder) readSequence(el *element, h header, depth int, limit int64, keep bool) error {
	if depth >= d.lim.MaxDepth {
		return d.errorf(ErrLimit, "sequences nested deeper than %d", d.lim.MaxDepth)
	}
	undef := h.length == undefinedLength
	end := limit
	if !undef {
		end = d.pos + int64(h.length)
	}
	if keep {
		el.vr = "SQ"
		el.undef = undef
		el.value = nil
	}
	for {
		if !undef && d.pos == end {
			return nil
		}
		ih, err := d.readHeader(end)
		if err != nil {
			return err
		}
		switch ih.tag {
		case tagSeqDelim:
			if !undef {
				return d.errorf(ErrMalformed, "sequence delimiter in %s of defined length", h.tag)
			}
			return nil
		case tagItem:
			it, err := d.readItem(ih, depth+1, end, keep)
			if err != nil {
				return err
			}
			if keep {
				el.items = append(el.items, it)
			}
		default:
			return d.errorf(ErrMalformed, "%s where an item of %s was expected", ih.tag, h.tag)
		}
	}
}

func (d *decoder) readItem(ih header, depth int, limit int64, keep bool) (*item, error) {
	var it *item
	if keep {
		if err := d.charge(perNodeCost); err != nil {
			return nil, err
		}
		it = &item{undef: ih.length == undefinedLength}
	}
	undef := ih.length == undefinedLength
	end := limit
	if !undef {
		if int64(ih.length) > limit-d.pos {
			return nil, d.errorf(ErrMalformed, "item of %d bytes overruns its sequence", ih.length)
		}
		end = d.pos + int64(ih.length)
	}
	for {
		if !undef && d.pos == end {
			return it, nil
		}
		h, err := d.readHeader(end)
		if err != nil {
			return nil, err
		}
		if h.tag == tagItemDelim {
			if !undef {
				return nil, d.errorf(ErrMalformed, "item delimiter in an item of defined length")
			}
			return it, nil
		}
		if h.tag.group() == 0xFFFE {
			return nil, d.errorf(ErrMalformed, "%s inside an item", h.tag)
		}
		el, err := d.readElement(h, depth, end, keep)
		if err != nil {
			return nil, err
		}
		if keep {
			it.elems = append(it.elems, el)
		}
	}
}

// readFragments reads encapsulated pixel data held in memory: that of an
// icon inside a sequence. Top-level pixel data is streamed instead.
func (d *decoder) readFragments(el *element, limit int64, keep bool) error {
	if keep {
		el.encap = true
	}
	for {
		ih, err := d.readHeader(limit)
		if err != nil {
			return err
		}
		switch ih.tag {
		case tagSeqDelim:
			return nil
		case tagItem:
			if ih.length == undefinedLength || int64(ih.length) > limit-d.pos {
				return d.errorf(ErrMalformed, "pixel data fragment of length %d", ih.length)
			}
			if !keep {
				if err := d.discard(int64(ih.length)); err != nil {
					return err
				}
				continue
			}
			if err := d.charge(perNodeCost); err != nil {
				return err
			}
			v, err := d.readValue(ih.length)
			if err != nil {
				return err
			}
			el.frags = append(el.frags, v)
		default:
			return d.errorf(ErrMalformed, "%s among pixel data fragments", ih.tag)
		}
	}
}
