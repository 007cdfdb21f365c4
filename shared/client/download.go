package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
)

// Download saves a file (or one version) to dst. Bytes go to dst+".part"
// first; an interrupted download resumes from what that holds (an HTTP
// Range request on a fresh presigned URL), and dst appears only whole.
func (c *Client) Download(ctx context.Context, uuid, versionUUID, dst string, progress func(Progress)) (int64, error) {
	f, err := c.Get(ctx, uuid)
	if err != nil {
		return 0, err
	}
	size := f.Size
	if versionUUID != "" {
		var v struct {
			Size int64 `json:"size"`
		}
		if _, err := c.Do(ctx, "GET", "/v1/files/"+url.PathEscape(uuid)+"/versions/"+url.PathEscape(versionUUID), nil, &v); err != nil {
			return 0, err
		}
		size = v.Size
	}
	tmp := dst + ".part"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	have, err := out.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	if have > size {
		if err := out.Truncate(0); err != nil {
			return 0, err
		}
		have, _ = out.Seek(0, io.SeekStart)
	}
	if have < size {
		u, err := c.DownloadURL(ctx, uuid, versionUUID)
		if err != nil {
			return 0, err
		}
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		if err != nil {
			return 0, err
		}
		if have > 0 {
			req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
		}
		hc := *c.http()
		hc.Timeout = 0
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK && have > 0: // Range ignored: start over
			if err := out.Truncate(0); err != nil {
				return 0, err
			}
			have, _ = out.Seek(0, io.SeekStart)
		case resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusPartialContent:
		default:
			return 0, fmt.Errorf("download: storage answered %d", resp.StatusCode)
		}
		done := have
		buf := make([]byte, 1<<20)
		for {
			k, rerr := resp.Body.Read(buf)
			if k > 0 {
				if _, err := out.Write(buf[:k]); err != nil {
					return done, err
				}
				done += int64(k)
				if progress != nil {
					progress(Progress{Phase: "downloading", Done: done, Total: size})
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return done, rerr
			}
		}
		have = done
	}
	if have != size {
		return have, fmt.Errorf("download: got %d bytes, want %d; run it again to resume", have, size)
	}
	if err := out.Close(); err != nil {
		return have, err
	}
	return have, os.Rename(tmp, dst)
}

// ErrNoPreview: the version has no preview of that size (yet: previews
// follow the upload and its malware verdict; or never, for a format
// without them).
var ErrNoPreview = errors.New("no preview of that size")

// Preview reads a file's preview of one size (its main version's, or one
// version's) and its bytes.
func (c *Client) Preview(ctx context.Context, uuid, versionUUID string, size int) (Preview, []byte, error) {
	var ps struct {
		Previews []Preview `json:"previews"`
	}
	path := "/v1/files/" + url.PathEscape(uuid)
	if versionUUID != "" {
		path += "/versions/" + url.PathEscape(versionUUID)
	}
	if _, err := c.Do(ctx, "GET", path, nil, &ps); err != nil {
		return Preview{}, nil, err
	}
	for _, p := range ps.Previews {
		if p.Size != size {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, "GET", p.URL, nil)
		if err != nil {
			return Preview{}, nil, err
		}
		resp, err := c.http().Do(req)
		if err != nil {
			return Preview{}, nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return Preview{}, nil, fmt.Errorf("preview: storage answered %d", resp.StatusCode)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		return p, b, err
	}
	return Preview{}, nil, ErrNoPreview
}
