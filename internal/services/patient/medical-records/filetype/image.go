package filetype

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"image/jpeg"
	"image/png"
	"io"
)

const readBuf = 64 << 10

// isEOF reports whether a decoder ran out of file.
func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// checkPDF looks for the end-of-file marker where readers look for it, in
// the last 1024 bytes: without it the PDF was cut short. Its objects are not
// parsed.
func checkPDF(f *io.SectionReader) error {
	tail := make([]byte, min(f.Size(), 1024))
	n, _ := f.ReadAt(tail, f.Size()-int64(len(tail)))
	if !bytes.Contains(tail[:n], []byte("%%EOF")) {
		return invalid(nil, "the PDF is incomplete: it lacks the end marker every PDF has; download or export it again")
	}
	return nil
}

const pngSignature = "\x89PNG\r\n\x1a\n"

// checkPNG decodes the header, which must be the first chunk, and walks the
// chunks to IEND. Chunk checksums other than IHDR's are not verified.
func checkPNG(f *io.SectionReader) error {
	if _, err := png.DecodeConfig(io.NewSectionReader(f, 0, f.Size())); isEOF(err) {
		return pngIncomplete()
	} else if err != nil {
		return invalid(err, "the PNG image is damaged: its header is missing or broken")
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, int64(len(pngSignature)), f.Size()), readBuf)
	var h [8]byte
	for {
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return pngIncomplete()
		}
		if string(h[4:]) == "IEND" {
			return nil
		}
		// The data and the checksum after it.
		n := int64(binary.BigEndian.Uint32(h[:])) + 4
		if m, _ := io.CopyN(io.Discard, br, n); m < n {
			return pngIncomplete()
		}
	}
}

func pngIncomplete() error {
	return invalid(nil, "the PNG image is incomplete: it was cut short; save or download it again")
}

// checkJPEG decodes the header up to the frame, then walks the markers to
// EOI, skipping the entropy-coded data after each start of scan, in which
// 0xFF is followed by 0x00 (a stuffed byte) or a restart marker only. A
// header image/jpeg cannot decode but does not call broken (12-bit
// samples, arithmetic coding, lossless: all found in medical imaging) is
// left to the walk.
func checkJPEG(f *io.SectionReader) error {
	var notDecoded jpeg.UnsupportedError
	if _, err := jpeg.DecodeConfig(io.NewSectionReader(f, 0, f.Size())); isEOF(err) {
		return jpegIncomplete()
	} else if err != nil && !errors.As(err, &notDecoded) {
		return invalid(err, "the JPEG image is damaged: its header is broken")
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, 2, f.Size()), readBuf)
	scanned := false // the 0xFF of the next marker has been read already
	for {
		if !scanned {
			b, err := br.ReadByte()
			if err != nil {
				return jpegIncomplete()
			}
			if b != 0xff {
				return invalid(nil, "the JPEG image is damaged: its structure is broken")
			}
		}
		scanned = false
		code, err := markerCode(br)
		if err != nil {
			return jpegIncomplete()
		}
		switch {
		case code == 0xd9: // EOI
			return nil
		case code >= 0xd0 && code <= 0xd7, code == 0x01: // no length
			continue
		}
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return jpegIncomplete()
		}
		n := int64(binary.BigEndian.Uint16(l[:])) - 2
		if n < 0 {
			return invalid(nil, "the JPEG image is damaged: its structure is broken")
		}
		if m, _ := io.CopyN(io.Discard, br, n); m < n {
			return jpegIncomplete()
		}
		if code == 0xda { // SOS
			if err := skipScan(br); err != nil {
				return jpegIncomplete()
			}
			scanned = true
		}
	}
}

func jpegIncomplete() error {
	return invalid(nil, "the JPEG image is incomplete: it was cut short; save or download it again")
}

// markerCode reads the code of a marker whose first 0xFF has been read,
// past any fill bytes (more 0xFF).
func markerCode(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if err != nil || c != 0xff {
			return c, err
		}
	}
}

// skipScan reads entropy-coded data up to the 0xFF of the next marker that
// is not a restart marker, and leaves the reader at that marker's code.
func skipScan(br *bufio.Reader) error {
	for {
		if _, err := br.ReadSlice(0xff); err == bufio.ErrBufferFull {
			continue
		} else if err != nil {
			return err
		}
		c, err := markerCode(br)
		if err != nil {
			return err
		}
		if c == 0x00 || c >= 0xd0 && c <= 0xd7 {
			continue
		}
		return br.UnreadByte()
	}
}
