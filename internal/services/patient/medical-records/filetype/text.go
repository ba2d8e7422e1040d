package filetype

import (
	"encoding/binary"
	"io"
	"unicode/utf8"
)

const (
	textChunk = 64 << 10
	// binaryWindow is where a control character means the file is not text
	// at all (of a type we do not recognise) rather than broken text. Git
	// decides "binary" on the first 8,000 bytes the same way.
	binaryWindow = 8 << 10
)

// checkText streams through f a chunk at a time: every byte must be valid
// UTF-8, and no character a control other than tab, line feed, form feed
// and carriage return. Those others (NUL above all) mean a binary file, or
// text a viewer would show wrong.
func checkText(f *io.SectionReader) error {
	r := io.NewSectionReader(f, 0, f.Size())
	buf := make([]byte, utf8.UTFMax+textChunk)
	var pos int64 // offset of buf[0] in the file
	keep := 0     // bytes of a rune the previous chunk ended inside
	for {
		n, err := io.ReadFull(r, buf[keep:keep+textChunk])
		b := buf[:keep+n]
		last := err != nil
		cut := len(b)
		if !last {
			cut = complete(b)
		}
		if i := control(b[:cut]); i >= 0 {
			if pos+int64(i) < binaryWindow {
				return unsupported("of a type we do not recognise", "")
			}
			return invalid(nil, "the text contains control characters, such as NUL, that plain text does not; save it again as plain text (UTF-8)")
		}
		if !utf8.Valid(b[:cut]) {
			return invalid(nil, "the text is not in UTF-8; save it again as plain text with the UTF-8 encoding")
		}
		if last {
			return nil
		}
		keep = copy(buf, b[cut:])
		pos += int64(cut)
	}
}

// complete is the length of b without the start of a rune that b ends
// inside: the next chunk may finish it.
func complete(b []byte) int {
	for i := len(b) - 1; i >= 0 && i > len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}

// control is the index of the first control character in b that plain
// text has no business holding, or -1. It tests eight bytes at a time for
// any byte under 0x20 or equal to 0x7f (the "hasless" and "haszero" bit
// tricks) and looks closer only at the words that have one, such as those
// with a line feed: about twice as fast as a byte at a time.
func control(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for i := 0; i < len(b); i += 8 {
		if i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			del := x ^ ones*0x7f
			if (x-ones*0x20)&^x&highs == 0 && (del-ones)&^del&highs == 0 {
				continue
			}
		}
		for j := i; j < min(i+8, len(b)); j++ {
			if c := b[j]; c < 0x20 && c != '\t' && c != '\n' && c != '\f' && c != '\r' || c == 0x7f {
				return j
			}
		}
	}
	return -1
}
