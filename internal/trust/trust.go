// Package trust decides whether a file can be trusted to decide what code a
// host runs: nobody but its owner (or root) may be able to change it, as
// OpenSSH's StrictModes requires of a user's keys.
package trust

import "path/filepath"

// Paths are the file, and every directory from it up to stop: whoever can
// write one of them can swap the file.
func Paths(file, stop string) []string {
	out := []string{file}
	stop = filepath.Clean(stop)
	for dir := filepath.Dir(file); ; dir = filepath.Dir(dir) {
		out = append(out, dir)
		if dir == stop || dir == filepath.Dir(dir) {
			return out
		}
	}
}
