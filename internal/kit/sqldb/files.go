package sqldb

import (
	"errors"
	"io/fs"
	"os"
)

// privateFiles makes the SQLite store at path readable by its owner only:
// it holds health data and password hashes. SQLite would create the file
// 0644 (less the umask), and gives its -wal, -shm and -journal files the
// database file's mode, so the file is created 0600 before SQLite opens
// it; a store an earlier version made is narrowed, companions included.
// The folder is made 0700 when the store creates it; an existing one is
// the operator's choice (it may be a shared volume's root) and is left as
// it is, as the files in it are private.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			if err := os.Chmod(p, perm&0o700); err != nil {
				return err
			}
		}
	}
	return nil
}
