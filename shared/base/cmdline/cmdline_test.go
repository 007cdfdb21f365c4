package cmdline

import (
	"flag"
	"strings"
	"testing"
)

func TestParseAnywhere(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		out  string
		pos  string
	}{
		{[]string{"-o", "x", "u1"}, "x", "u1"},
		{[]string{"u1", "-o", "x"}, "x", "u1"},
		{[]string{"u1", "--quiet", "u2", "-o=x"}, "x", "u1 u2"},
		{[]string{"-o", "x", "--", "-u1", "-o"}, "x", "-u1 -o"},
		{[]string{"u1", "--", "-o", "y"}, "", "u1 -o y"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		out := fs.String("o", "", "")
		fs.Bool("quiet", false, "")
		if err := ParseAnywhere(fs, tc.args); err != nil || *out != tc.out || strings.Join(fs.Args(), " ") != tc.pos {
			t.Errorf("%q: -o %q args %q (%v), want %q %q", tc.args, *out, fs.Args(), err, tc.out, tc.pos)
		}
	}
}
