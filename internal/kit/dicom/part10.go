package dicom

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Transfer syntaxes we name; the encapsulated ones are recognised by prefix
// in parseSyntax.
const (
	tsImplicitLE = "1.2.840.10008.1.2"
	tsExplicitLE = "1.2.840.10008.1.2.1"
	tsDeflatedLE = "1.2.840.10008.1.2.1.99"
	tsExplicitBE = "1.2.840.10008.1.2.2"
)

// Who wrote the file, as the File Meta of our output says (PS3.10 7.1): a
// UID under 2.25 made once from a random UUID for this package, and a name.
const (
	implementationClassUID    = "2.25.165349586601964960512071361610928236159"
	implementationVersionName = "SO_DICOM_1"
)

const (
	preambleLen = 128
	readBufSize = 64 << 10
	// The File Meta is a handful of short values; these bounds keep a
	// hostile one from being anything else.
	maxMetaValueBytes = 64 << 10
	maxMetaBytes      = 1 << 20
)

type syntax struct {
	explicit bool
	deflated bool
}

// parseSyntax says how the data set of a transfer syntax is encoded. Every
// standard encapsulated syntax is Explicit VR Little Endian with
// undefined-length pixel data (PS3.5 A.4).
func parseSyntax(uid string) (syntax, error) {
	switch {
	case uid == tsImplicitLE:
		return syntax{}, nil
	case uid == tsExplicitLE:
		return syntax{explicit: true}, nil
	case uid == tsDeflatedLE:
		return syntax{explicit: true, deflated: true}, nil
	case strings.HasPrefix(uid, "1.2.840.10008.1.2.4."),
		uid == "1.2.840.10008.1.2.5",
		uid == "1.2.840.10008.1.2.1.98",
		strings.HasPrefix(uid, "1.2.840.10008.1.2.8."):
		return syntax{explicit: true}, nil
	case uid == tsExplicitBE:
		return syntax{}, fmt.Errorf("%w: %s (Explicit VR Big Endian, retired)", ErrUnsupportedTransferSyntax, uid)
	}
	return syntax{}, fmt.Errorf("%w: %q", ErrUnsupportedTransferSyntax, uid)
}

// fileMeta is what we keep of the input's File Meta Information.
type fileMeta struct {
	transferSyntax string
	sopClassUID    string
	sopInstanceUID string
}

// readMeta reads the preamble, "DICM" and the group 0002 elements, which
// are Explicit VR Little Endian whatever the transfer syntax. It trusts no
// group length: it reads while the next tag is in group 0002.
func readMeta(d *decoder) (fileMeta, error) {
	var pre [preambleLen + 4]byte
	if _, err := io.ReadFull(d.r, pre[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fileMeta{}, fmt.Errorf("%w: shorter than a preamble", ErrNotPart10)
		}
		return fileMeta{}, fmt.Errorf("dicom: read: %w", err)
	}
	d.pos = int64(len(pre))
	if string(pre[preambleLen:]) != "DICM" {
		return fileMeta{}, fmt.Errorf("%w: no DICM prefix after the preamble", ErrNotPart10)
	}
	var m fileMeta
	for {
		b, err := d.r.Peek(2)
		if err != nil || binary.LittleEndian.Uint16(b) != 0x0002 {
			break // the data set starts, or is empty; its reader will tell
		}
		h, err := d.readHeader(noLimit)
		if err != nil {
			return fileMeta{}, err
		}
		if h.vr == "SQ" || h.length == undefinedLength {
			return fileMeta{}, d.errorf(ErrMalformed, "sequence %s in the File Meta Information", h.tag)
		}
		v, err := d.readValue(h.length)
		if err != nil {
			return fileMeta{}, err
		}
		switch h.tag {
		case tagTransferSyntaxUID:
			m.transferSyntax = trimValue(v)
		case tagMediaStorageSOPClassUID:
			m.sopClassUID = trimValue(v)
		case tagMediaStorageSOPInstanceUID:
			m.sopInstanceUID = trimValue(v)
		}
	}
	if m.transferSyntax == "" {
		return fileMeta{}, d.errorf(ErrMalformed, "File Meta Information without Transfer Syntax UID")
	}
	return m, nil
}

// dataset is an opened Part 10 stream, positioned at its data set.
type dataset struct {
	meta   fileMeta
	syntax syntax
	dec    *decoder
	close  func() error
}

func openDataset(src io.Reader, lim Limits) (*dataset, error) {
	br := bufio.NewReaderSize(src, readBufSize)
	md := &decoder{
		r:        br,
		explicit: true,
		lim:      Limits{MaxValueBytes: maxMetaValueBytes, MaxElementBytes: maxMetaBytes, MaxDepth: 1},
		budget:   maxMetaBytes,
	}
	meta, err := readMeta(md)
	if err != nil {
		return nil, err
	}
	syn, err := parseSyntax(meta.transferSyntax)
	if err != nil {
		return nil, err
	}
	ds := &dataset{
		meta:   meta,
		syntax: syn,
		dec:    &decoder{r: br, pos: md.pos, explicit: syn.explicit, lim: lim},
		close:  func() error { return nil },
	}
	if syn.deflated {
		// The data set after the File Meta is a raw deflate stream
		// (PS3.5 A.5); offsets in errors are then into the inflated bytes.
		fr := flate.NewReader(br)
		ds.dec.r = bufio.NewReaderSize(fr, readBufSize)
		ds.dec.pos = 0
		ds.close = fr.Close
	}
	return ds, nil
}

// writeMeta writes a zeroed preamble (the original may carry application
// data), "DICM" and a File Meta naming us as its writer, with its group
// length computed.
func writeMeta(w io.Writer, sopClassUID, sopInstanceUID, transferSyntax string) error {
	elems := []*element{
		{tag: tagMetaVersion, vr: "OB", value: []byte{0x00, 0x01}},
		{tag: tagMediaStorageSOPClassUID, vr: "UI", value: padUID(sopClassUID)},
		{tag: tagMediaStorageSOPInstanceUID, vr: "UI", value: padUID(sopInstanceUID)},
		{tag: tagTransferSyntaxUID, vr: "UI", value: padUID(transferSyntax)},
		{tag: tagImplementationClassUID, vr: "UI", value: padUID(implementationClassUID)},
		{tag: tagImplementationVersionName, vr: "SH", value: padText(implementationVersionName)},
	}
	var buf bytes.Buffer
	buf.Write(make([]byte, preambleLen))
	buf.WriteString("DICM")
	enc := &encoder{w: &buf, explicit: true}
	var n int64
	for _, el := range elems {
		n += enc.size(el)
	}
	groupLength := make([]byte, 4)
	binary.LittleEndian.PutUint32(groupLength, uint32(n))
	for _, el := range append([]*element{{tag: tagMetaGroupLength, vr: "UL", value: groupLength}}, elems...) {
		if err := enc.writeElement(el); err != nil {
			return err
		}
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return writeError{err}
	}
	return nil
}

// trimValue is a string value without the padding DICOM adds (a trailing
// space, or NUL for UIDs) and the spaces PS3.5 says are insignificant.
func trimValue(v []byte) string {
	return strings.TrimRight(strings.TrimLeft(string(v), " "), " \x00")
}

// padUID pads a UID to even length with NUL (PS3.5 9.1).
func padUID(s string) []byte {
	b := []byte(s)
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// padText pads a string value to even length with a space.
func padText(s string) []byte {
	b := []byte(s)
	if len(b)%2 == 1 {
		b = append(b, ' ')
	}
	return b
}
