package filetype

import (
	"encoding/binary"
	"errors"
	"io"
)

// TIFF tags we look at.
const (
	tagWidth           = 256
	tagLength          = 257
	tagStripOffsets    = 273
	tagStripByteCounts = 279
	tagTileOffsets     = 324
	tagTileByteCounts  = 325
)

// tiffTypeSize is the size of a value of each TIFF 6.0 field type (and 13,
// IFD, of the Adobe supplement). Readers skip fields of other types, so do we.
var tiffTypeSize = [...]int64{1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}

// tiffSlack is what the walk may read beyond the size of the file.
const tiffSlack = 64 << 10

var (
	errTIFFShort  = errors.New("tiff: points past the end")
	errTIFFBroken = errors.New("tiff: broken")
)

type tiffEntry struct {
	typ   int
	count int64
	value []byte // the 4-byte field: the value itself or its offset
}

// tiff walks the image directories of a classic TIFF.
type tiff struct {
	f      *io.SectionReader
	order  binary.ByteOrder
	budget int64 // bytes the walk may still read
}

// checkTIFF walks every image directory: each must have a width, a height
// and strips or tiles, and whatever it points to must lie inside the file.
// The reading is budgeted to the size of the file and a little: a file's
// directories and arrays do not overlap, so a walk that reads more is on
// a loop or on structures that share bytes to make it read them again.
func checkTIFF(f *io.SectionReader) error {
	t := &tiff{f: f, order: binary.LittleEndian, budget: f.Size() + tiffSlack}
	var h [8]byte
	if err := t.read(h[:], 0); err != nil {
		return tiffError(err)
	}
	if h[0] == 'M' {
		t.order = binary.BigEndian
	}
	// Loops and shared directories need no check of their own: reading
	// one a second time overdraws the budget.
	off := int64(t.order.Uint32(h[4:]))
	for first := true; first || off != 0; first = false {
		if off < int64(len(h)) {
			return tiffError(errTIFFBroken)
		}
		next, err := t.page(off)
		if err != nil {
			return tiffError(err)
		}
		off = next
	}
	return nil
}

func tiffError(err error) error {
	if errors.Is(err, errTIFFShort) {
		return invalid(err, "the TIFF image is incomplete: it was cut short; save or download it again")
	}
	return invalid(err, "the TIFF image is damaged: its structure is broken")
}

// read fills p from off, charging the budget.
func (t *tiff) read(p []byte, off int64) error {
	if t.budget -= int64(len(p)); t.budget < 0 {
		return errTIFFBroken
	}
	if off < 0 || off > t.f.Size()-int64(len(p)) {
		return errTIFFShort
	}
	if _, err := t.f.ReadAt(p, off); err != nil {
		return errTIFFShort
	}
	return nil
}

// page checks the image directory at off and returns the offset of the
// next (0 for none).
func (t *tiff) page(off int64) (int64, error) {
	var c [2]byte
	if err := t.read(c[:], off); err != nil {
		return 0, err
	}
	n := int(t.order.Uint16(c[:]))
	if n == 0 {
		return 0, errTIFFBroken
	}
	d := make([]byte, 12*n+4)
	if err := t.read(d, off+2); err != nil {
		return 0, err
	}
	tags := make(map[uint16]tiffEntry)
	for i := range n {
		e := d[12*i : 12*i+12]
		typ := int(t.order.Uint16(e[2:]))
		if typ >= len(tiffTypeSize) || tiffTypeSize[typ] == 0 {
			continue
		}
		en := tiffEntry{typ: typ, count: int64(t.order.Uint32(e[4:])), value: e[8:12]}
		if size := en.count * tiffTypeSize[typ]; size > 4 {
			if end := int64(t.order.Uint32(en.value)) + size; end > t.f.Size() {
				return 0, errTIFFShort
			}
		}
		switch tag := t.order.Uint16(e); tag {
		case tagWidth, tagLength, tagStripOffsets, tagStripByteCounts, tagTileOffsets, tagTileByteCounts:
			tags[tag] = en
		}
	}
	for _, tag := range []uint16{tagWidth, tagLength} {
		if v, err := t.value(tags[tag], 0); err != nil || v == 0 {
			return 0, errTIFFBroken
		}
	}
	offsets, counts := tags[tagStripOffsets], tags[tagStripByteCounts]
	if offsets.count == 0 {
		offsets, counts = tags[tagTileOffsets], tags[tagTileByteCounts]
	}
	if err := t.data(offsets, counts); err != nil {
		return 0, err
	}
	return int64(t.order.Uint32(d[12*n:])), nil
}

// data checks that every strip or tile lies inside the file, reading the
// two arrays a block at a time.
func (t *tiff) data(offsets, counts tiffEntry) error {
	if offsets.count == 0 || offsets.count != counts.count {
		return errTIFFBroken
	}
	o, c := &tiffArray{t: t, e: offsets}, &tiffArray{t: t, e: counts}
	for i := range offsets.count {
		off, err := o.at(i)
		if err != nil {
			return err
		}
		n, err := c.at(i)
		if err != nil {
			return err
		}
		if off+n > t.f.Size() {
			return errTIFFShort
		}
	}
	return nil
}

// value is value i of a SHORT or LONG entry.
func (t *tiff) value(e tiffEntry, i int64) (int64, error) {
	return (&tiffArray{t: t, e: e}).at(i)
}

// tiffArray reads the values of a SHORT or LONG entry in order, a block at
// a time.
type tiffArray struct {
	t     *tiff
	e     tiffEntry
	buf   []byte
	block []byte
	first int64 // index of the value block starts with
}

const tiffBlock = 4 << 10

func (a *tiffArray) at(i int64) (int64, error) {
	if a.e.typ != 3 && a.e.typ != 4 || i >= a.e.count {
		return 0, errTIFFBroken
	}
	size := tiffTypeSize[a.e.typ]
	if a.e.count*size <= 4 {
		a.block = a.e.value
	} else if i < a.first || (i-a.first)*size >= int64(len(a.block)) {
		a.first = i
		if a.buf == nil {
			a.buf = make([]byte, tiffBlock)
		}
		a.block = a.buf[:min((a.e.count-i)*size, tiffBlock)]
		if err := a.t.read(a.block, int64(a.t.order.Uint32(a.e.value))+i*size); err != nil {
			return 0, err
		}
	}
	p := a.block[(i-a.first)*size:]
	if size == 2 {
		return int64(a.t.order.Uint16(p)), nil
	}
	return int64(a.t.order.Uint32(p)), nil
}
