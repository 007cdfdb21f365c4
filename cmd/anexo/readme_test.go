package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeCLI runs the README's CLI block exactly as written, as one
// shell script (set -e), against the API on the embedded emulators; only
// its first line, the export of a placeholder endpoint and token, is
// replaced by this server's.
func TestReadmeCLI(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join(packageDir, "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, cliSection, ok := strings.Cut(string(readme), "\n## CLI\n")
	_, block, ok2 := strings.Cut(cliSection, "```sh\n")
	block, _, ok3 := strings.Cut(block, "```\n")
	export, script, ok4 := strings.Cut(block, "\n")
	if !ok || !ok2 || !ok3 || !ok4 || !strings.HasPrefix(export, "export ANEXO_URL=") || !strings.Contains(script, "anexo download") {
		t.Fatalf("README: no CLI block starting with the export of ANEXO_URL:\n%s", block)
	}
	bin := buildCLI(t)
	url, token := server(t, 0)
	work := t.TempDir()
	_, _ = writeRandom(t, work, "contrato.pdf", 40_000)
	_, _ = writeRandom(t, work, "video.mp4", 9*mib)
	_, _ = writeRandom(t, work, "proposta.pdf", 1_000)
	_, v2 := writeRandom(t, work, "contrato-v2.pdf", 50_000)
	cmd := exec.Command("/bin/sh", "-e", "-c", script)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "ANEXO_URL="+url, "ANEXO_TOKEN="+token,
		"HOME="+work, "XDG_CACHE_HOME="+filepath.Join(work, "cache"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's CLI block failed: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(work, "copia.pdf")); !bytes.Equal(got, v2) {
		t.Fatalf("copia.pdf is not the file's main version (contrato-v2.pdf)\n%s", out)
	}
	// events tail: the two trashes and the purge, nothing else
	if n := strings.Count(string(out), "\tfile.trashed\t"); n != 2 || strings.Count(string(out), "\tfile.purged\t") != 1 ||
		strings.Contains(string(out), "\tfile.restored\t") || !strings.Contains(string(out), "resume with: anexo events tail --after ") {
		t.Fatalf("events tail printed:\n%s", out)
	}
	// the token block of "Accounts and tokens", with the same admin token
	_, section, _ := strings.Cut(string(readme), "\n### Accounts and tokens\n")
	blocks := strings.Split(section, "```sh\n")
	if len(blocks) < 3 || !strings.Contains(blocks[2], "anexo token revoke") {
		t.Fatal("README: no token block (the second sh block of Accounts and tokens)")
	}
	tokens, _, _ := strings.Cut(blocks[2], "```\n")
	cmd = exec.Command("/bin/sh", "-e", "-c", tokens+"\nprintf '%s %s' \"$SECRET\" \"$NEW\"")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "ANEXO_URL="+url, "ANEXO_TOKEN="+token)
	out, err = cmd.Output()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	secrets := strings.Fields(lines[len(lines)-1])
	if err != nil || len(secrets) != 2 {
		t.Fatalf("the README's token block failed: %v\n%s", err, out)
	}
	for _, s := range secrets { // revoked: both refused
		if code, _, _ := (cli{t: t, url: url, token: s}).run("ls"); code != exitAuth {
			t.Fatalf("a secret of the revoked token still works (exit %d)", code)
		}
	}
}
