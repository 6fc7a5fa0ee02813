// Package suggest finds the known name closest to a misspelt one, for the
// "did you mean" of an error message.
package suggest

import "strings"

// Closest returns the candidate nearest to name, compared case-insensitively,
// and true when one is near: its Distance is at most a third of name's
// length (at least 1). Of candidates equally near, the first wins. A
// candidate equal to name is not a suggestion; one that differs only in
// case is the nearest there is.
func Closest(name string, candidates []string) (string, bool) {
	lname := strings.ToLower(name)
	limit := max(1, len([]rune(lname))/3)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if c == name {
			continue
		}
		if d := Distance(lname, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best, best != ""
}

// Distance is the optimal string alignment distance between a and b: the
// number of single-rune insertions, deletions, substitutions and swaps of
// two neighbours that turn a into b ("LAOD" to "LOAD" is 1).
func Distance(a, b string) int {
	s, t := []rune(a), []rune(b)
	// d[i][j] is the distance between s[:i] and t[:j].
	d := make([][]int, len(s)+1)
	for i := range d {
		d[i] = make([]int, len(t)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(s); i++ {
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(s)][len(t)]
}
