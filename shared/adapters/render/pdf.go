package render

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sync"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/anexo/anexo/shared/domain/previews"
)

// pdfMemoryPages bounds pdfium's WebAssembly memory: 16,384 pages of
// 64 KiB, 1 GiB.
const pdfMemoryPages = 16384

// pdfEngine runs pdfium in WebAssembly: one runtime per process, started
// on the first PDF (compiling the module takes a moment: the compiled
// code is cached under the temporary directory for the next cold start),
// with no file system mounted and bounded memory.
type pdfEngine struct {
	once sync.Once
	pool pdfium.Pool
	err  error
}

func (e *pdfEngine) start() (pdfium.Pool, error) {
	e.once.Do(func() {
		// pdfium is built with WebAssembly exceptions: go-pdfium's own
		// features, and the limits above
		rc := wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
			WithMemoryLimitPages(pdfMemoryPages).WithCloseOnContextDone(true)
		if cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(os.TempDir(), "anexo-pdfium")); err == nil {
			rc = rc.WithCompilationCache(cache)
		}
		e.pool, e.err = webassembly.Init(webassembly.Config{MinIdle: 1, MaxIdle: 1, MaxTotal: 2,
			FSConfig: wazero.NewFSConfig(), RuntimeConfig: rc})
	})
	return e.pool, e.err
}

// firstPage renders a PDF's first page to fit size × size: a password,
// a broken file or no page at all is previews.ErrUnsupported.
func (e *pdfEngine) firstPage(ctx context.Context, src []byte, size int) (image.Image, error) {
	pool, err := e.start()
	if err != nil {
		return nil, fmt.Errorf("pdfium: %w", err)
	}
	inst, err := pool.GetInstanceWithContext(ctx)
	if err != nil {
		return nil, err
	}
	killed := false
	img, err := inTime(ctx, func() (image.Image, error) { return render(inst, src, size) },
		func() { killed, _ = true, inst.Kill() }) // stops the instance mid-page
	if !killed { // back to the pool, even when ctx ended just after the page
		_ = inst.Close()
	}
	return img, err
}

func render(inst pdfium.Pdfium, src []byte, size int) (image.Image, error) {
	doc, err := inst.OpenDocument(&requests.OpenDocument{File: &src})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", previews.ErrUnsupported, err)
	}
	defer func() { _, _ = inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: doc.Document}) }()
	n, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc.Document})
	if err != nil || n.PageCount < 1 {
		return nil, fmt.Errorf("%w: a PDF without pages", previews.ErrUnsupported)
	}
	page, err := inst.RenderPageInPixels(&requests.RenderPageInPixels{Width: size, Height: size,
		Page: requests.Page{ByIndex: &requests.PageByIndex{Document: doc.Document, Index: 0}}})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", previews.ErrUnsupported, err)
	}
	defer page.Cleanup()
	// the image lives in the instance's memory until Cleanup: copied out
	src2 := page.Result.Image
	out := image.NewRGBA(src2.Bounds())
	copy(out.Pix, src2.Pix)
	return out, nil
}
