package dicom

import (
	"encoding/binary"
	"io"
)

// maxDefinedLength is the largest length a header can state; 0xFFFFFFFF
// means undefined.
const maxDefinedLength = 0xFFFF_FFFE

// encoder writes a data set in the transfer syntax it was read in.
type encoder struct {
	w        io.Writer
	explicit bool
	scratch  [12]byte
}

func (e *encoder) write(p []byte) error {
	if _, err := e.w.Write(p); err != nil {
		return writeError{err}
	}
	return nil
}

// headerVR is the VR an Explicit VR header states for a value of length n.
// A short-length VR whose value does not fit 16 bits can only come from an
// Implicit VR sequence nested in a UN (the dictionary's VR, not the
// writer's); it is written as UN, which is always allowed.
func headerVR(vr string, n int64) string {
	if !hasLongLength(vr) && n > 0xFFFF {
		return "UN"
	}
	return vr
}

func (e *encoder) headerSize(vr string, n int64) int64 {
	if vr == "" || !e.explicit || !hasLongLength(headerVR(vr, n)) {
		return 8
	}
	return 12
}

func (e *encoder) writeHeader(t tag, vr string, length uint32) error {
	b := e.scratch[:]
	binary.LittleEndian.PutUint16(b[0:], t.group())
	binary.LittleEndian.PutUint16(b[2:], t.element())
	if vr == "" || !e.explicit {
		binary.LittleEndian.PutUint32(b[4:], length)
		return e.write(b[:8])
	}
	n := int64(length)
	if length == undefinedLength {
		n = 0
	}
	vr = headerVR(vr, n)
	b[4], b[5] = vr[0], vr[1]
	if hasLongLength(vr) {
		b[6], b[7] = 0, 0
		binary.LittleEndian.PutUint32(b[8:], length)
		return e.write(b[:12])
	}
	binary.LittleEndian.PutUint16(b[6:], uint16(length))
	return e.write(b[:8])
}

// seqContent is the size of a sequence's items and whether it is written
// with undefined length: as it was read, or when it outgrew 32 bits.
func (e *encoder) seqContent(el *element) (int64, bool) {
	var n int64
	for _, it := range el.items {
		n += e.itemSize(it)
	}
	if el.undef || n > maxDefinedLength {
		return n + 8, true
	}
	return n, false
}

func (e *encoder) itemContent(it *item) (int64, bool) {
	var n int64
	for _, el := range it.elems {
		n += e.size(el)
	}
	if it.undef || n > maxDefinedLength {
		return n + 8, true
	}
	return n, false
}

func (e *encoder) itemSize(it *item) int64 {
	n, _ := e.itemContent(it)
	return 8 + n
}

// size is the encoded size of el, header included.
func (e *encoder) size(el *element) int64 {
	switch {
	case el.vr == "SQ":
		n, undef := e.seqContent(el)
		if undef {
			return e.headerSize("SQ", 0) + n
		}
		return e.headerSize("SQ", n) + n
	case el.encap:
		n := int64(8) // the sequence delimiter
		for _, f := range el.frags {
			n += 8 + int64(len(f))
		}
		return e.headerSize(el.vr, 0) + n
	}
	return e.headerSize(el.vr, int64(len(el.value))) + int64(len(el.value))
}

func (e *encoder) writeElement(el *element) error {
	switch {
	case el.vr == "SQ":
		n, undef := e.seqContent(el)
		length := uint32(n)
		if undef {
			length = undefinedLength
		}
		if err := e.writeHeader(el.tag, "SQ", length); err != nil {
			return err
		}
		for _, it := range el.items {
			if err := e.writeItem(it); err != nil {
				return err
			}
		}
		if undef {
			return e.writeHeader(tagSeqDelim, "", 0)
		}
		return nil
	case el.encap:
		if err := e.writeHeader(el.tag, el.vr, undefinedLength); err != nil {
			return err
		}
		for _, f := range el.frags {
			if err := e.writeHeader(tagItem, "", uint32(len(f))); err != nil {
				return err
			}
			if err := e.write(f); err != nil {
				return err
			}
		}
		return e.writeHeader(tagSeqDelim, "", 0)
	}
	// Values come from a decoded header or from us, so they fit 32 bits.
	if err := e.writeHeader(el.tag, el.vr, uint32(len(el.value))); err != nil {
		return err
	}
	return e.write(el.value)
}

func (e *encoder) writeItem(it *item) error {
	n, undef := e.itemContent(it)
	length := uint32(n)
	if undef {
		length = undefinedLength
	}
	if err := e.writeHeader(tagItem, "", length); err != nil {
		return err
	}
	for _, el := range it.elems {
		if err := e.writeElement(el); err != nil {
			return err
		}
	}
	if undef {
		return e.writeHeader(tagItemDelim, "", 0)
	}
	return nil
}
