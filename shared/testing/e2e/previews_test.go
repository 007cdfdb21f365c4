package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/platform/app"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// pngOf is a w × h PNG.
func pngOf(t *testing.T, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x), G: uint8(y), B: 128, A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// waitPreviews polls a file until it has previews.
func (c *client) waitPreviews(uuid string) map[string]any {
	c.t.Helper()
	return c.pollFile(uuid, "no previews", func(f map[string]any) bool {
		ps, _ := f["previews"].([]any)
		return len(ps) > 0
	})
}

// TestPreviews: an uploaded picture, once its scan is clean, gets three
// JPEG previews (64, 256 and 1024 px on the long edge, never enlarged)
// with file.preview_ready; the file, its versions, Kommo's view and the
// listings with=previews (with_preview=true too) carry them with signed
// links that serve the images; a listing without asks shows none; a
// format without previews gets none; deleting a file for good, by
// request or when its trash time runs out, deletes its previews.
func TestPreviews(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t), withScanner(20*time.Millisecond))
	c := e.account(0, "")
	r := newReceiver(t, e.clock.Now)
	c.hook(r, map[string]any{"types": []string{"file.preview_ready"}})
	photo := c.upload("photo.png", pngOf(t, 800, 600), nil)
	text := c.upload("notes.txt", []byte("no previews for text"), nil)
	id := photo["uuid"].(string)

	f := c.waitPreviews(id)
	ps := f["previews"].([]any)
	want := [][3]float64{{64, 64, 48}, {256, 256, 192}, {1024, 800, 600}}
	for i, p := range ps {
		m := p.(map[string]any)
		if m["size"] != want[i][0] || m["width"] != want[i][1] || m["height"] != want[i][2] || m["type"] != "image/jpeg" || m["url"] == "" {
			t.Fatalf("preview %d: %v, want %v", i, m, want[i])
		}
	}
	resp, err := http.Get(ps[1].(map[string]any)["url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil || resp.Header.Get("Content-Type") != "image/jpeg" || img.Bounds().Dx() != 256 {
		t.Fatalf("the 256 px preview's link: %s %q, %v", resp.Status, resp.Header.Get("Content-Type"), err)
	}
	if got := r.waitFor(1); len(got) != 1 {
		t.Fatalf("file.preview_ready deliveries: %d", len(got))
	}

	// listings: none unless asked; with=previews and with_preview=true sign them
	first := func(path string) map[string]any {
		t.Helper()
		page := c.expect(200, "GET", path, nil)
		for _, x := range page["_embedded"].(map[string]any)["files"].([]any) {
			if x.(map[string]any)["uuid"] == id {
				return x.(map[string]any)
			}
		}
		t.Fatalf("%s does not list the photo", path)
		return nil
	}
	if _, ok := first("/v1/files")["previews"]; ok {
		t.Fatal("a listing that did not ask shows previews")
	}
	for _, q := range []string{"with=previews", "with_preview=true"} {
		if ps, _ := first("/v1/files?" + q)["previews"].([]any); len(ps) != 3 || ps[0].(map[string]any)["url"] == "" {
			t.Fatalf("listing with %s: %v", q, ps)
		}
	}
	problemField(t, c.do("GET", "/v1/files?with=thumbnails", nil), 400, "with[0]")
	v := c.expect(200, "GET", "/v1/files/"+id+"/versions", nil)["_embedded"].(map[string]any)["versions"].([]any)[0].(map[string]any)
	if ps, _ := v["previews"].([]any); len(ps) != 3 || ps[2].(map[string]any)["url"] == "" {
		t.Fatalf("the version's previews: %v", v["previews"])
	}
	if kp, _ := c.expect(200, "GET", "/v1.0/files/"+id, nil)["previews"].([]any); len(kp) != 3 || kp[0].(map[string]any)["download_link"] == "" {
		t.Fatalf("Kommo's view of the previews: %v", kp)
	}
	c.expect(201, "PUT", "/v1/entities/deal/77", map[string]any{})
	c.expect(200, "POST", "/v1/entities/deal/77/files", map[string]any{"file_uuids": []string{id}})
	media := c.expect(200, "GET", "/v1/entities/deal/77/files?with=previews", nil)["_embedded"].(map[string]any)["files"].([]any)
	if ps, _ := media[0].(map[string]any)["previews"].([]any); len(ps) != 3 || ps[0].(map[string]any)["url"] == "" {
		t.Fatalf("the deal's media with previews: %v", media[0])
	}

	// no previews for text (its scan came back clean)
	if got := c.waitScan(text["uuid"].(string)); len(got["previews"].([]any)) != 0 {
		t.Fatalf("a text file's previews: %v", got["previews"])
	}

	// deleted for good: by request, and by the sweeper
	ctx := context.Background()
	gone := func(ps []any) {
		t.Helper()
		for _, p := range ps {
			u := p.(map[string]any)["url"].(string)
			res, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusForbidden {
				t.Fatalf("a purged file's preview answers %s", res.Status)
			}
		}
	}
	c.expect(200, "DELETE", "/v1/files", batchBody(id))
	c.expect(200, "POST", "/v1/files/purge", batchBody(id))
	gone(ps)

	later := c.upload("later.png", pngOf(t, 100, 50), nil)
	lps := c.waitPreviews(later["uuid"].(string))["previews"].([]any)
	if m := lps[2].(map[string]any); m["width"] != 100.0 || m["height"] != 50.0 {
		t.Fatalf("a small picture's 1024 px preview is %v × %v, want it never enlarged", m["width"], m["height"])
	}
	c.expect(200, "DELETE", "/v1/files", batchBody(later["uuid"].(string)))
	e.clock.Advance(catalog.TrashWindow + time.Hour)
	if err := app.Sweeper(e.srv.Function(lambdas.Sweeper))(ctx, lambdaevents.EventBridgeEvent{ID: "sweep"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Deps.Store().GetFile(ctx, c.account, later["uuid"].(string)); err == nil {
		t.Fatal("the sweeper left the file's record")
	}
	bucket := e.srv.Deps.Cfg.PreviewsBucketName()
	for _, size := range files.PreviewSizes {
		key := files.PreviewKey(c.account, later["uuid"].(string), later["version_uuid"].(string), size)
		_, err := e.srv.Deps.S3().HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(key)})
		var nf *s3types.NotFound
		if !errors.As(err, &nf) {
			t.Fatalf("the sweeper left preview %s: %v", key, err)
		}
	}
}
