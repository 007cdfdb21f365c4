package e2e_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/anexo/anexo/shared/testing/testenv"
)

// TestCurlScript runs the README's curl flow (scripts/upload.sh): start,
// kill after one part, resume with the session id, download identical bytes.
func TestCurlScript(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq", "dd"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	script := filepath.Join(eventsDir(), "..", "scripts", "upload.sh")
	dir := t.TempDir()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	data := random(2*8*MiB + 12345)
	file := filepath.Join(dir, "relatório.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(stopAfter string, args ...string) (int, string, string) {
		cmd := exec.Command("bash", append([]string{script}, args...)...)
		cmd.Env = append(os.Environ(), "ANEXO_URL="+c.base, "ANEXO_TOKEN="+c.token, "STOP_AFTER="+stopAfter)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errb.String()
	}
	code, _, stderr := run("1", file)
	if code != 3 {
		t.Fatalf("interrupted run: exit %d\n%s", code, stderr)
	}
	sid := regexp.MustCompile(`session ([0-9a-f-]{36})`).FindStringSubmatch(stderr)
	if sid == nil {
		t.Fatalf("no session id printed:\n%s", stderr)
	}
	st := c.expect(200, "GET", "/v1/sessions/"+sid[1], nil)
	if len(st["missing_parts"].([]any)) != 2 {
		t.Fatalf("after the interruption: %v", st["missing_parts"])
	}
	code, stdout, stderr := run("", file, sid[1])
	if code != 0 {
		t.Fatalf("resumed run: exit %d\n%s", code, stderr)
	}
	var f map[string]any
	if err := json.Unmarshal([]byte(stdout), &f); err != nil || f["name"] != "relatório.bin" {
		t.Fatalf("completion output %q: %v", stdout, err)
	}
	if got, _ := c.download(f["uuid"].(string), ""); !bytes.Equal(got, data) {
		t.Fatal("downloaded bytes differ")
	}
}
