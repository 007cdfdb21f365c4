package js_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anexo/anexo/shared/client"
	"github.com/anexo/anexo/shared/platform/app"
)

// copyPackage copies the package's sources (not node_modules, not dist)
// into <root>/clients/js, as a clone of the repository holds them.
func copyPackage(t *testing.T, root string) string {
	t.Helper()
	dst := filepath.Join(root, "clients", "js")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && (rel == "node_modules" || rel == "dist") {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasSuffix(rel, ".go") || strings.HasPrefix(filepath.Base(rel), ".readme-") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// sh runs a command line in dir through the shell; it returns stdout.
func sh(t *testing.T, dir, line string, env ...string) string {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s (in %s): %v\n%s%s", line, dir, err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String()
}

// readmeInstall is the README's install block: the line run in a clone
// of Anexo and the line run in the user's project.
func readmeInstall(t *testing.T) (inClone, inProject string) {
	t.Helper()
	var lines []string
	for l := range strings.SplitSeq(readmeFenced(t, "**Install**", "sh"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 || !strings.Contains(lines[1], "/path/to/anexo/") {
		t.Fatalf("README: no **Install** block of two lines, the second installing from /path/to/anexo/ (%q)", lines)
	}
	return lines[0], lines[1]
}

// TestPackageInstalls installs the package as the README says: packed in
// a copy of the repository (prepack builds it), installed into an empty
// project, where the README's Node example runs. There, a strict tsc of a
// consumer passes under nodenext, bundler and node10 resolution (the
// packed .d.ts complete: the schema's types included, no Node types
// needed) and fails on a wrong route or a wrong body; an esbuild browser
// bundle of a consumer builds with nothing external (no node: module
// reachable from the browser entry); publint and arethetypeswrong pass.
func TestPackageInstalls(t *testing.T) {
	// the page of the browser check, on an origin of its own
	project := t.TempDir()
	pages := httptest.NewServer(http.FileServer(http.Dir(project)))
	t.Cleanup(pages.Close)
	srv, token := serverFor(t, []string{pages.URL}, func(c *app.Config) { c.Limits.MinPartSize = 0 })
	clone := t.TempDir()
	pkg := copyPackage(t, clone)
	inClone, inProject := readmeInstall(t)
	sh(t, clone, inClone)
	packed := sh(t, pkg, "tar -tzf anexo-client-*.tgz")
	for _, want := range []string{"package/dist/node.js", "package/dist/browser.js", "package/dist/schema.d.ts", "package/README.md", "package/LICENSE"} {
		if !strings.Contains(packed, want+"\n") {
			t.Errorf("the tarball lacks %s:\n%s", want, packed)
		}
	}
	if strings.Contains(packed, "package/src/") || strings.Contains(packed, ".go\n") {
		t.Errorf("the tarball ships sources:\n%s", packed)
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(project, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("package.json", `{"name": "crm-app", "private": true, "type": "module"}`+"\n")
	sh(t, project, strings.Replace(inProject, "/path/to/anexo/", clone+"/", 1))
	// the checks that pack again (the tarball above is installed by now),
	// from the dist/ its prepack built: no build again
	skip := "npm_config_ignore_scripts=true"
	sh(t, pkg, "npx --no-install publint --strict && npx --no-install attw --pack . --profile esm-only", skip)
	if out := sh(t, pkg, "npm publish --access public --dry-run 2>&1", skip); !strings.Contains(out, "dist/browser.js") {
		t.Errorf("npm publish --dry-run:\n%s", out)
	}

	// the README's Node example, in the project
	write("example.mjs", readmeBlock(t, "\n## TypeScript client"))
	data := make([]byte, 9<<20+3)
	_, _ = rand.Read(data)
	path := filepath.Join(project, "proposta.pdf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out := strings.Fields(sh(t, project, "node example.mjs proposta.pdf", "ANEXO_URL="+srv.URL, "ANEXO_TOKEN="+token))
	if len(out) < 3 || out[1] != fmt.Sprint(len(data)) || out[2] != "proposta.pdf" {
		t.Fatalf("the Node example printed %q", out)
	}

	// types, as three kinds of project resolve them
	tsc := filepath.Join(dir, "node_modules", "typescript", "bin", "tsc")
	write("good.ts", `import { AnexoError, Client, type File, type Schemas } from "@anexo/client";
const c = new Client({ endpoint: "https://files.example.com", token: "anx_x" });
export async function file(uuid: string): Promise<File> {
  const { data, response } = await c.api.GET("/v1/files/{uuid}", { params: { path: { uuid } } });
  if (!data) throw new AnexoError(response.status, {});
  const session: Schemas["Session"]["status"] = "open";
  return { ...data, name: data.name + session };
}
export const blob = (b: Blob) => c.upload(b, { parallel: 2, onProgress: ({ loaded, total }) => loaded / total });
`)
	write("bad.ts", `import { Client } from "@anexo/client";
const c = new Client({ endpoint: "https://files.example.com", token: "anx_x" });
export const a = c.api.GET("/v1/no-such-route");
export const b = c.api.POST("/v1/sessions", { body: { file_name: 1, file_size: "9" } });
export const d = c.api.GET("/v1/files/{uuid}", { params: { path: {} } });
`)
	for _, tc := range []struct{ name, module, resolution string }{
		{"nodenext", "nodenext", "nodenext"}, {"bundler", "esnext", "bundler"}, {"node10", "commonjs", "node10"},
	} {
		// one compile of both: good.ts clean, bad.ts wrong on each line
		name := "tsconfig." + tc.name + ".json"
		write(name, fmt.Sprintf(`{"compilerOptions": {"strict": true, "noEmit": true, "skipLibCheck": false, "target": "es2022",
  "lib": ["es2022", "dom"], "types": [], "module": %q, "moduleResolution": %q}, "files": ["good.ts", "bad.ts"]}`, tc.module, tc.resolution))
		t.Run("tsc/"+tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("node", tsc, "-p", name)
			cmd.Dir = project
			b, err := cmd.CombinedOutput()
			for line := range strings.SplitSeq(string(b), "\n") {
				if line != "" && !strings.HasPrefix(line, "bad.ts(") && !strings.HasPrefix(line, " ") {
					t.Errorf("tsc: an error outside bad.ts's wrong calls: %s", line)
				}
			}
			for _, want := range []string{"bad.ts(3,", "bad.ts(4,", "bad.ts(5,"} {
				if err == nil || !bytes.Contains(b, []byte(want)) {
					t.Errorf("tsc passed a wrong call (want an error at %s): %v\n%s", want, err, b)
				}
			}
		})
	}

	// a browser bundle, nothing left external
	write("page.js", `import { Client } from "@anexo/client";
const c = new Client({ endpoint: location.origin, token: "anx_x" });
document.querySelector("input").onchange = async (e) => console.log(await c.upload(e.target.files[0]), await c.downloadURL("u"));
`)
	esbuild := filepath.Join(dir, "node_modules", ".bin", "esbuild")
	sh(t, project, esbuild+" page.js --bundle --platform=browser --format=esm --minify --outfile=bundle.js")
	bundle, err := os.ReadFile(filepath.Join(project, "bundle.js"))
	if err != nil || bytes.Contains(bundle, []byte("node:")) {
		t.Fatalf("the browser bundle: %v (mentions node: %v)", err, bytes.Contains(bundle, []byte("node:")))
	}
	inBrowser(t, project, pages.URL, srv.URL, token)
	// the README's browser example builds against the package
	write("readme-page.js", "const pageToken = 'anx_x'\n"+readmeBlock(t, "**Browser, without Uppy**"))
	sh(t, project, esbuild+" readme-page.js --bundle --platform=browser --format=esm --outfile=readme-bundle.js")

	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write(bundle)
	_ = w.Close()
	t.Logf("browser bundle of a page that uploads: %.1f KiB, %.1f KiB gzipped", float64(len(bundle))/1024, float64(gz.Len())/1024)
}

// inBrowser: in headless Chromium, web security on, a page on its own
// origin (not the API's) uploads a picked file with the installed package
// as esbuild bundles it (resume-page.js); the page is reloaded once a part
// is stored, the same file is picked again and the upload goes on in the
// same session, remembered in localStorage; the page downloads the file
// through downloadURL and its bytes are the file's.
func inBrowser(t *testing.T, project, pageURL, api, token string) {
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium, _ = exec.LookPath("chromium")
	}
	if chromium == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI needs chromium")
		}
		t.Log("chromium missing: the browser check is skipped")
		return
	}
	src, err := os.ReadFile(filepath.Join(dir, "browser", "resume-page.js"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(project, "resume-page.js"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, project, filepath.Join(dir, "node_modules", ".bin", "esbuild")+" resume-page.js --bundle --platform=browser --format=esm --outfile=resume.js")
	html := `<!doctype html><meta charset="utf-8"><title>send a document</title><input type="file" id="pick"><script type="module" src="/resume.js"></script>`
	if err := os.WriteFile(filepath.Join(project, "index.html"), []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 20<<20+11)
	_, _ = rand.Read(data)
	file := filepath.Join(t.TempDir(), "rg-frente.bin")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(dir, "browser", "crossorigin.mjs"), pageURL+"/?api="+url.QueryEscape(api)+"#token="+token, file)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var out struct {
		Address string
		Before  struct {
			Sessions []string
			Progress []int64
			Error    string
		}
		After struct {
			Remembered int
			Sessions   []string
			Progress   []int64
			Error      string
			Done       struct {
				UUID, Sha256 string
				Size         int64
			}
		}
		Console []string
		Error   string
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || runErr != nil || out.Error != "" {
		t.Fatalf("browser: %v %v\nstdout: %s\nstderr: %s", runErr, err, stdout.String(), stderr.String())
	}
	if out.Before.Error != "" || out.After.Error != "" || len(out.Before.Sessions) != 1 {
		t.Fatalf("the page: %+v / %+v\nconsole: %v", out.Before, out.After, out.Console)
	}
	if strings.Contains(out.Address, "token") {
		t.Errorf("the token stayed in the address bar: %s", out.Address)
	}
	if out.After.Remembered != 1 || len(out.After.Sessions) != 1 || out.After.Sessions[0] != out.Before.Sessions[0] {
		t.Fatalf("after the reload, sessions %v; before it %v: not resumed\n%s", out.After.Sessions, out.Before.Sessions, stderr.String())
	}
	within := false
	for _, b := range append(out.Before.Progress, out.After.Progress...) {
		within = within || b%(8<<20) != 0
	}
	sum := sha256.Sum256(data)
	if !within || out.After.Done.Size != int64(len(data)) || out.After.Done.Sha256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("progress within parts %v; the file %+v", within, out.After.Done)
	}
	// the resumed session sent only what storage lacked: one file
	c := &client.Client{Endpoint: api, Token: token}
	st, err := c.State(context.Background(), out.Before.Sessions[0])
	if err != nil || st.Session.Status != "completed" {
		t.Fatalf("the session: %+v %v", st.Session, err)
	}
	t.Logf("in Chromium, a page on another origin: %d progress reports before the reload, the upload resumed in session %s", len(out.Before.Progress), out.Before.Sessions[0])
}
