package dicom

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// parsedFile is a whole Part 10 file read back into memory for assertions.
type parsedFile struct {
	preamble []byte
	meta     map[tag]string
	elems    []*element
}

// parseFile reads data completely, pixel data included, and checks the File
// Meta's group length against the bytes it covers.
func parseFile(t testing.TB, data []byte) parsedFile {
	t.Helper()
	if len(data) < 132 || string(data[128:132]) != "DICM" {
		t.Fatalf("output is not Part 10")
	}
	p := parsedFile{preamble: data[:128], meta: map[tag]string{}}
	off := 132
	var groupLength, groupStart int
	for off+8 <= len(data) && binary.LittleEndian.Uint16(data[off:]) == 0x0002 {
		tg := tag(uint32(binary.LittleEndian.Uint16(data[off:]))<<16 | uint32(binary.LittleEndian.Uint16(data[off+2:])))
		vr := string(data[off+4 : off+6])
		var n, hl int
		if hasLongLength(vr) {
			n, hl = int(binary.LittleEndian.Uint32(data[off+8:])), 12
		} else {
			n, hl = int(binary.LittleEndian.Uint16(data[off+6:])), 8
		}
		v := data[off+hl : off+hl+n]
		if tg == tagMetaGroupLength {
			groupLength, groupStart = int(binary.LittleEndian.Uint32(v)), off+hl+n
		}
		p.meta[tg] = trimValue(v)
		off += hl + n
	}
	if groupStart == 0 || off-groupStart != groupLength {
		t.Fatalf("File Meta group length %d, but the group holds %d bytes", groupLength, off-groupStart)
	}
	d, err := openDataset(bytes.NewReader(data), Limits{}.withDefaults())
	if err != nil {
		t.Fatalf("reopen output: %v", err)
	}
	defer d.close()
	for {
		eof, err := d.dec.atEOF()
		if err != nil {
			t.Fatal(err)
		}
		if eof {
			break
		}
		h, err := d.dec.readHeader(noLimit)
		if err != nil {
			t.Fatal(err)
		}
		d.dec.budget = d.dec.lim.MaxElementBytes
		el, err := d.dec.readElement(h, 0, noLimit, true)
		if err != nil {
			t.Fatalf("read back %s: %v", h.tag, err)
		}
		p.elems = append(p.elems, el)
	}
	return p
}

// find returns the element at path (top-level tag, then tags inside the
// first item of each sequence on the way), or nil.
func find(elems []*element, path ...tag) *element {
	for i, tg := range path {
		var next *element
		for _, el := range elems {
			if el.tag == tg {
				next = el
				break
			}
		}
		if next == nil || i == len(path)-1 {
			return next
		}
		if len(next.items) == 0 {
			return nil
		}
		elems = next.items[0].elems
	}
	return nil
}

func (p parsedFile) str(path ...tag) string {
	el := find(p.elems, path...)
	if el == nil {
		return "<absent>"
	}
	return trimValue(el.value)
}

// walk calls fn for every element, nested ones included.
func walk(elems []*element, fn func(*element)) {
	for _, el := range elems {
		fn(el)
		for _, it := range el.items {
			walk(it.elems, fn)
		}
	}
}

// allText is every value of the data set and meta, for "is it gone" checks.
func (p parsedFile) allText() string {
	var b strings.Builder
	for _, v := range p.meta {
		b.WriteString(v)
		b.WriteByte('\n')
	}
	walk(p.elems, func(el *element) {
		b.Write(el.value)
		b.WriteByte('\n')
	})
	return b.String()
}

func isValidUID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, comp := range strings.Split(s, ".") {
		if comp == "" || len(comp) > 1 && comp[0] == '0' {
			return false
		}
		for _, c := range comp {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}
