package crypt_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/secondopinion/platform/internal/kit/crypt"
)

// A document is encrypted under a data key of its own, stored wrapped
// beside it; a ranged read fetches only what it needs. In a service, the
// buffer is a blob.Bucket: Put's writer, and Fetch bound to
// Bucket.NewRangeReader with the size from Bucket.Size.
func Example() {
	ctx := context.Background()
	keeper, err := crypt.OpenKeeper(ctx, "base64key://"+strings.Repeat("A", 43)+"=", "")
	check(err)
	defer keeper.Close()

	key, err := crypt.NewKey()
	check(err)
	wrapped, err := keeper.Wrap(ctx, key) // stored with the document's record
	check(err)

	var stored bytes.Buffer
	w, err := crypt.NewWriter(&stored, key)
	check(err)
	_, err = io.WriteString(w, "DICM: a large study")
	check(err)
	check(w.Close())

	key, err = keeper.Unwrap(ctx, wrapped)
	check(err)
	fetch := func(off, n int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(stored.Bytes()[off : off+n])), nil
	}
	r, err := crypt.NewReader(key, int64(stored.Len()), fetch, 8, 5)
	check(err)
	defer r.Close()
	part, err := io.ReadAll(r)
	check(err)
	fmt.Printf("%q of %d bytes stored\n", part, stored.Len())
	// Output: "large" of 75 bytes stored
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
