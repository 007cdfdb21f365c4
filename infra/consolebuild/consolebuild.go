// Package consolebuild builds the files console for the CDK app to deploy,
// as make console does: the TypeScript client (clients/js: npm ci when its
// modules are missing or older than its lockfile, then its build), the
// console's own modules, then the console's build into the asset directory.
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
		{js, []string{"npm", "ci", "--no-audit", "--no-fund"}, stale(js)},
		{js, []string{"npm", "run", "build"}, always},
		{console, []string{"npm", "ci", "--no-audit", "--no-fund"}, stale(console)},
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

// stale reports whether dir's node_modules are missing or older than its
// lockfile (npm ci writes node_modules/.package-lock.json).
func stale(dir string) func() bool {
	return func() bool {
		lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
		if err != nil {
			return true
		}
		installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
		return err != nil || installed.ModTime().Before(lock.ModTime())
	}
}
