package extract

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // image.DecodeConfig of JPEG
	_ "image/png"  // image.DecodeConfig of PNG
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// image reads a PNG, JPEG or TIFF (every page of a multi-page TIFF) through
// OCR. Each page's size is checked against Limits.MaxPixels before tesseract
// sees it, since a small file can declare a huge image.
func (e *Extractor) image(ctx context.Context, ft vocab.FileType, r io.Reader) (Text, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return Text{}, readFailure(err)
	}
	var sizes []image.Point
	if ft == vocab.FileTIFF {
		sizes, err = tiffSizes(b, e.lim.MaxPages)
	} else {
		var c image.Config
		c, _, err = image.DecodeConfig(bytes.NewReader(b))
		sizes = []image.Point{{c.Width, c.Height}}
	}
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return Text{}, err
		}
		return Text{}, broken("the image is broken", err)
	}
	for _, s := range sizes {
		if s.X <= 0 || s.Y <= 0 {
			return Text{}, broken("the image has no pixels", nil)
		}
		if int64(s.X)*int64(s.Y) > e.lim.MaxPixels {
			return Text{}, failure(fault.KindTooLarge, ErrTooLarge, "Image too large",
				fmt.Sprintf("an image of %d×%d pixels is larger than is read (%d pixels)", s.X, s.Y, e.lim.MaxPixels))
		}
	}
	if !e.OCRAvailable() {
		pages := make([]Page, len(sizes))
		for i := range pages {
			pages[i] = Page{Number: i + 1, Method: MethodOCR, Status: StatusOCRUnavailable}
		}
		return Text{Pages: pages}, nil
	}
	out, err := e.ocr(ctx, b)
	if err != nil {
		return Text{}, err
	}
	parts := ocrPages(out)
	if len(parts) > e.lim.MaxPages {
		return Text{}, tooManyPages(len(parts), e.lim.MaxPages)
	}
	pages := make([]Page, len(parts))
	for i, p := range parts {
		pages[i] = Page{Number: i + 1, Text: p, Method: MethodOCR, Status: StatusOK}
	}
	return Text{Pages: pages}, nil
}

// ocrPages splits tesseract's output into pages at its form feeds: tesseract
// 5 writes one between pages, 4 one after each page.
func ocrPages(out string) []string {
	out = strings.TrimSuffix(out, "\f")
	parts := strings.Split(out, "\f")
	for i, p := range parts {
		parts[i] = strings.TrimRight(p, "\n ")
	}
	return parts
}

// ocr runs tesseract on one image (any format leptonica reads) given on its
// standard input, and returns its text from standard output. It waits for
// one of Options.OCRWorkers slots, and the run is bounded by
// Limits.OCRTimeout and by the caller's ctx; tesseract is told to use one
// thread (OMP_THREAD_LIMIT=1), as running several at once wants.
func (e *Extractor) ocr(ctx context.Context, img []byte) (string, error) {
	select {
	case e.ocrSlots <- struct{}{}:
		defer func() { <-e.ocrSlots }()
	case <-ctx.Done():
		return "", timeout(ctx, nil)
	}
	runCtx, cancel := context.WithTimeout(ctx, e.lim.OCRTimeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, e.tesseract, "stdin", "stdout", "-l", e.langs)
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	cmd.Stdin = bytes.NewReader(img)
	stdout := &cappedBuffer{max: e.lim.MaxTextBytes}
	stderr := &cappedBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		return "", timeout(ctx, err)
	case runCtx.Err() != nil:
		return "", &fault.Error{Kind: fault.KindTimeout, Title: "OCR took too long",
			Detail: "reading the text of an image took longer than allowed", Err: wrapCause(ErrOCRFailed, runCtx.Err())}
	case stdout.over:
		return "", failure(fault.KindTooLarge, ErrTooLarge, "Document too large", "the document holds more text than is read")
	case err != nil:
		// tesseract's messages name no content; they go to the logs, not
		// to the caller.
		return "", &fault.Error{Kind: fault.KindInternal, Title: "OCR failed", Detail: "the text of an image could not be read",
			Err: fmt.Errorf("%w: %w: %s", ErrOCRFailed, err, strings.TrimSpace(stderr.String()))}
	}
	return normalise(strings.ToValidUTF8(stdout.String(), "\uFFFD")), nil
}

// cappedBuffer keeps at most max bytes and remembers whether more came. It
// does not embed bytes.Buffer: io.Copy would use the buffer's ReadFrom and
// never call Write.
type cappedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); len(p) > room {
		c.over = true
		c.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.buf.Write(p)
}

func (c *cappedBuffer) String() string { return c.buf.String() }

// tiffSizes returns the size of each image of a classic TIFF, following the
// chain of image directories. A chain longer than maxPages is ErrTooLarge;
// one that loops, or points outside the file, is broken.
func tiffSizes(b []byte, maxPages int) ([]image.Point, error) {
	if len(b) < 8 {
		return nil, errors.New("tiff: short header")
	}
	var order binary.ByteOrder
	switch string(b[:4]) {
	case "II*\x00":
		order = binary.LittleEndian
	case "MM\x00*":
		order = binary.BigEndian
	default:
		return nil, errors.New("tiff: not a classic TIFF")
	}
	var sizes []image.Point
	seen := map[uint32]bool{}
	for off := order.Uint32(b[4:]); off != 0; {
		if seen[off] {
			return nil, errors.New("tiff: image directories loop")
		}
		seen[off] = true
		if len(sizes) == maxPages {
			return nil, tooManyPages(maxPages+1, maxPages)
		}
		if uint64(off)+2 > uint64(len(b)) {
			return nil, errors.New("tiff: directory outside the file")
		}
		n := int(order.Uint16(b[off:]))
		end := uint64(off) + 2 + 12*uint64(n)
		if end+4 > uint64(len(b)) {
			return nil, errors.New("tiff: directory outside the file")
		}
		var p image.Point
		for i := range n {
			entry := b[uint64(off)+2+12*uint64(i):]
			tag, typ := order.Uint16(entry), order.Uint16(entry[2:])
			var v int
			switch typ {
			case 3: // SHORT
				v = int(order.Uint16(entry[8:]))
			case 4: // LONG
				v = int(order.Uint32(entry[8:]))
			default:
				continue
			}
			switch tag {
			case 256:
				p.X = v
			case 257:
				p.Y = v
			}
		}
		sizes = append(sizes, p)
		off = order.Uint32(b[end:])
	}
	if len(sizes) == 0 {
		return nil, errors.New("tiff: no image")
	}
	return sizes, nil
}
