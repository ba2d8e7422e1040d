// Package blob stores opaque objects — in the platform, encrypted medical
// documents — under string keys, behind a small API over gocloud.dev/blob.
// It owns the choice of backend and the guarantees every backend keeps:
//
//   - a local directory (fileblob, the embedded default) whose folders are
//     0700 and whose files are 0600, written through temporary files kept
//     inside the store (never in the shared os.TempDir, never across mounts);
//   - any S3-compatible store (s3blob), addressed by an s3:// URL.
//
// Writes stream — an upload holds a few parts in memory (on S3, the
// transfer manager's 8 MiB parts, five at most), never the object — and
// are all-or-nothing: a Put whose writer fails or whose
// context ends leaves no object behind. Reads are ranged, so a service can
// serve HTTP Range requests and decrypt segment by segment.
//
// It knows nothing of what it stores: encryption is package crypt's.
package blob
