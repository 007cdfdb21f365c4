// Package consolebuild builds the files console for the CDK app to deploy,
// as make console does: the TypeScript client (clients/js: npm ci when its
// modules are missing or older than its lockfile, its build when a source
// is newer than it), the console's own modules, then the console's build
// into the asset directory.
package consolebuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build writes the built console (index.html, assets/) to out.
func Build(ctx context.Context, root, out string) error {
	out, err := filepath.Abs(out) // the build runs in clients/console
	if err != nil {
		return err
	}
	js, console := filepath.Join(root, "clients", "js"), filepath.Join(root, "clients", "console")
	steps := []struct {
		dir  string
		args []string
		when func() bool
	}{
		{js, []string{"npm", "ci", "--no-audit", "--no-fund"}, modulesStale(js)},
		// only when a source is newer: tests that read dist/ run beside
		// TestCDKSynth, and make test built it before them
		{js, []string{"npm", "run", "build"}, older(filepath.Join(js, "dist", "browser.js"), filepath.Join(js, "tsconfig.json"), filepath.Join(js, "src", "*.ts"))},
		{console, []string{"npm", "ci", "--no-audit", "--no-fund"}, modulesStale(console)},
		{console, []string{"node", "build.mjs", out}, always},
	}
	for _, s := range steps {
		if !s.when() {
			continue
		}
		cmd := exec.CommandContext(ctx, s.args[0], s.args[1:]...)
		cmd.Dir = s.dir
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("the console's build: %v in %s: %w\n%s", s.args, s.dir, err, b)
		}
	}
	return nil
}

func always() bool { return true }

// modulesStale reports whether dir's node_modules are missing or older
// than its lockfile (npm ci writes node_modules/.package-lock.json).
func modulesStale(dir string) func() bool {
	return older(filepath.Join(dir, "node_modules", ".package-lock.json"), filepath.Join(dir, "package-lock.json"))
}

// older reports whether target is missing or older than a file the
// patterns match.
func older(target string, patterns ...string) func() bool {
	return func() bool {
		t, err := os.Stat(target)
		if err != nil {
			return true
		}
		for _, p := range patterns {
			matches, _ := filepath.Glob(p)
			for _, m := range matches {
				if st, err := os.Stat(m); err == nil && st.ModTime().After(t.ModTime()) {
					return true
				}
			}
		}
		return false
	}
}
