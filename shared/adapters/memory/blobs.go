package memory

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/crc"
	"github.com/anexo/anexo/shared/base/readbody"
	"github.com/anexo/anexo/shared/domain/previews"
	"github.com/anexo/anexo/shared/domain/relay"
	"github.com/anexo/anexo/shared/domain/upload"
)

// MinPartSize is S3's smallest part but the last.
const MinPartSize = 5 << 20

// Blobs is a versioned bucket in memory with S3's rules: multipart uploads
// whose parts clients PUT to presigned URLs (signed length and checksum),
// full-object checksums verified at completion, conditional empty puts,
// delete markers, and presigned GETs and POST forms. Serve it over HTTP
// (httptest.NewServer(b)) and set Endpoint to the server's URL before
// presigning. It implements upload.Blobs, catalog.Blobs and
// batches.Blobs.
type Blobs struct {
	Endpoint string // the URL presigned requests go to

	mu      sync.Mutex
	secret  []byte
	objects map[string][]object // by key, oldest version first
	uploads map[string]*multipart
	seq     int
}

type object struct {
	version     string
	data        []byte
	contentType string
	alg         string // the full-object checksum S3 keeps
	marker      bool   // a delete marker
}

type multipart struct {
	key, contentType, alg string
	parts                 map[int32]upload.Part
	data                  map[int32][]byte
}

func (b *Blobs) init() {
	if b.objects == nil {
		b.objects, b.uploads = map[string][]object{}, map[string]*multipart{}
		b.secret = make([]byte, 32)
		_, _ = rand.Read(b.secret)
	}
}

// do runs fn under the bucket's lock.
func (b *Blobs) do(fn func() error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.init()
	return fn()
}

// id makes a version or upload id.
func (b *Blobs) id() string {
	b.seq++
	return fmt.Sprintf("%08d%s", b.seq, hex.EncodeToString(b.secret[:4]))
}

// put adds a version of key and returns its id.
func (b *Blobs) put(key, contentType, alg string, data []byte) string {
	v := object{version: b.id(), data: data, contentType: contentType, alg: alg}
	b.objects[key] = append(b.objects[key], v)
	return v.version
}

// current is key's latest version, unless it is a delete marker.
func (b *Blobs) current(key string) (object, bool) {
	vs := b.objects[key]
	if len(vs) == 0 || vs[len(vs)-1].marker {
		return object{}, false
	}
	return vs[len(vs)-1], true
}

// CreateUpload implements upload.Blobs.
func (b *Blobs) CreateUpload(_ context.Context, key, contentType, checksumAlg string) (string, error) {
	var id string
	err := b.do(func() error {
		id = b.id()
		b.uploads[id] = &multipart{key: key, contentType: contentType, alg: checksumAlg,
			parts: map[int32]upload.Part{}, data: map[int32][]byte{}}
		return nil
	})
	return id, err
}

// sign signs a request's query (everything but the signature).
func (b *Blobs) sign(method, key string, q url.Values) string {
	b.mu.Lock()
	b.init()
	secret := b.secret
	b.mu.Unlock()
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%s\n%s\n%s", method, key, q.Encode())
	return hex.EncodeToString(m.Sum(nil))
}

// presign is the URL of a signed request to key.
func (b *Blobs) presign(method, key string, q url.Values, ttl time.Duration) string {
	q.Set("expires", strconv.FormatInt(time.Now().Add(ttl).Unix(), 10))
	q.Set("signature", b.sign(method, key, q))
	return strings.TrimRight(b.Endpoint, "/") + "/" + key + "?" + q.Encode()
}

// PresignPart implements upload.Blobs: the length, and the checksum when
// given, are signed; any other body is refused.
func (b *Blobs) PresignPart(_ context.Context, key, uploadID string, part int32, size int64, alg, checksum string, ttl time.Duration) (upload.SignedRequest, error) {
	q := url.Values{"uploadId": {uploadID}, "partNumber": {strconv.Itoa(int(part))}, "size": {strconv.FormatInt(size, 10)}}
	headers := map[string]string{}
	if size > 0 {
		headers["Content-Length"] = strconv.FormatInt(size, 10)
	}
	if checksum != "" {
		q.Set("alg", alg)
		q.Set("checksum", checksum)
		headers["X-Amz-Checksum-"+strings.ToLower(alg)] = checksum
	}
	return upload.SignedRequest{URL: b.presign(http.MethodPut, key, q, ttl), Method: http.MethodPut, Headers: headers}, nil
}

// ListParts implements upload.Blobs.
func (b *Blobs) ListParts(_ context.Context, _, uploadID string) ([]upload.Part, error) {
	var out []upload.Part
	err := b.do(func() error {
		u, ok := b.uploads[uploadID]
		if !ok {
			return apperr.ErrNoSuchUpload
		}
		for _, p := range u.parts {
			out = append(out, p)
		}
		slices.SortFunc(out, func(x, y upload.Part) int { return int(x.Number - y.Number) })
		return nil
	})
	return out, err
}

// CompleteUpload implements upload.Blobs: the parts must be the uploaded
// ones in order, each but the last at least MinPartSize, and the object's
// CRC must equal sum when given.
func (b *Blobs) CompleteUpload(_ context.Context, key, uploadID string, parts []upload.Part, sum *upload.Checksum) (string, error) {
	var version string
	err := b.do(func() error {
		u, ok := b.uploads[uploadID]
		if !ok || u.key != key {
			return apperr.ErrNoSuchUpload
		}
		var data []byte
		for i, p := range parts {
			got, ok := u.parts[p.Number]
			switch {
			case !ok || got.ETag != p.ETag:
				return fmt.Errorf("%w: part %d", apperr.ErrInvalidPart, p.Number)
			case i > 0 && p.Number <= parts[i-1].Number:
				return fmt.Errorf("%w: parts out of order", apperr.ErrInvalidPart)
			case i < len(parts)-1 && got.Size < MinPartSize:
				return fmt.Errorf("%w: part %d is smaller than 5 MiB", apperr.ErrInvalidPart, p.Number)
			}
			data = append(data, u.data[p.Number]...)
		}
		if sum != nil && sum.Value != "" && crc.Of(sum.Algorithm, data) != sum.Value {
			return fmt.Errorf("%w: the object's %s is not %s", apperr.ErrBadDigest, sum.Algorithm, sum.Value)
		}
		delete(b.uploads, uploadID)
		version = b.put(key, u.contentType, u.alg, data)
		return nil
	})
	return version, err
}

// AbortUpload implements upload.Blobs.
func (b *Blobs) AbortUpload(_ context.Context, _, uploadID string) error {
	return b.do(func() error {
		if _, ok := b.uploads[uploadID]; !ok {
			return apperr.ErrNoSuchUpload
		}
		delete(b.uploads, uploadID)
		return nil
	})
}

// Versions implements upload.Blobs: key's version ids, delete markers
// aside, newest first.
func (b *Blobs) Versions(_ context.Context, key string) ([]string, error) {
	var out []string
	err := b.do(func() error {
		for _, v := range slices.Backward(b.objects[key]) {
			if !v.marker {
				out = append(out, v.version)
			}
		}
		return nil
	})
	return out, err
}

// PutEmpty implements upload.Blobs: refused (apperr.ErrConflict) when key
// has a current object.
func (b *Blobs) PutEmpty(_ context.Context, key, contentType string) (string, error) {
	var version string
	err := b.do(func() error {
		if _, ok := b.current(key); ok {
			return apperr.ErrConflict
		}
		version = b.put(key, contentType, "", nil)
		return nil
	})
	return version, err
}

// PutObject implements batches.Blobs.
func (b *Blobs) PutObject(_ context.Context, key, contentType string, body []byte) (string, error) {
	var version string
	err := b.do(func() error {
		version = b.put(key, contentType, crc.CRC32, slices.Clone(body))
		return nil
	})
	return version, err
}

// Head implements upload.Blobs.
func (b *Blobs) Head(_ context.Context, key string) (upload.Object, error) {
	var out upload.Object
	err := b.do(func() error {
		v, ok := b.current(key)
		if !ok {
			return apperr.ErrNotFound
		}
		out = upload.Object{Size: int64(len(v.data)), VersionID: v.version, ChecksumAlg: v.alg, Checksum: crc.Of(v.alg, v.data)}
		return nil
	})
	return out, err
}

// ScanTag implements scanning.Tags: no scanner tags the memory bucket.
func (b *Blobs) ScanTag(_ context.Context, key, versionID string) (string, error) {
	err := b.do(func() error {
		if _, ok := b.current(key); !ok {
			return apperr.ErrNotFound
		}
		return nil
	})
	return "", err
}

// DeleteVersion implements upload.Blobs: one version goes for good (an
// empty id puts a delete marker, as on a versioned bucket).
func (b *Blobs) DeleteVersion(_ context.Context, key, versionID string) error {
	return b.do(func() error {
		if versionID == "" {
			b.objects[key] = append(b.objects[key], object{version: b.id(), marker: true})
			return nil
		}
		b.objects[key] = slices.DeleteFunc(b.objects[key], func(v object) bool { return v.version == versionID })
		return nil
	})
}

// Hide implements catalog.TrashBlobs: a delete marker unless one is
// current.
func (b *Blobs) Hide(_ context.Context, key string) error {
	return b.do(func() error {
		if vs := b.objects[key]; len(vs) > 0 && !vs[len(vs)-1].marker {
			b.objects[key] = append(vs, object{version: b.id(), marker: true})
		}
		return nil
	})
}

// Unhide implements catalog.TrashBlobs: every delete marker goes.
func (b *Blobs) Unhide(_ context.Context, key string) error {
	return b.do(func() error {
		b.objects[key] = slices.DeleteFunc(b.objects[key], func(v object) bool { return v.marker })
		return nil
	})
}

// Erase implements catalog.TrashBlobs and batches.Blobs.
func (b *Blobs) Erase(_ context.Context, key string) error {
	return b.do(func() error {
		delete(b.objects, key)
		return nil
	})
}

// PresignGet implements catalog.Blobs: one version, answered with the
// signed Content-Disposition and Content-Type.
func (b *Blobs) PresignGet(_ context.Context, key, versionID, disposition, contentType string, ttl time.Duration) (string, error) {
	q := url.Values{"versionId": {versionID}, "response-content-disposition": {disposition}, "response-content-type": {contentType}}
	return b.presign(http.MethodGet, key, q, ttl), nil
}

// policy is a POST form's signed conditions.
type policy struct {
	Key         string `json:"key"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
	Expires     int64  `json:"expires"`
}

// PresignPost implements upload.Blobs: the form pins the key, the exact
// size and the type.
func (b *Blobs) PresignPost(_ context.Context, key, contentType string, size int64, ttl time.Duration) (upload.PostForm, error) {
	raw, _ := json.Marshal(policy{Key: key, Size: size, ContentType: contentType, Expires: time.Now().Add(ttl).Unix()})
	p := base64.StdEncoding.EncodeToString(raw)
	fields := map[string]string{"key": key, "Content-Type": contentType, "policy": p, "signature": b.sign(http.MethodPost, key, url.Values{"policy": {p}})}
	return upload.PostForm{URL: strings.TrimRight(b.Endpoint, "/") + "/", Fields: fields}, nil
}

// s3Error answers as S3 does.
func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<Error><Code>%s</Code></Error>", code)
}

// ServeHTTP serves the presigned requests: part PUTs, version GETs and
// POST forms.
func (b *Blobs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/")
	if r.Method == http.MethodPost {
		b.servePost(w, r)
		return
	}
	q := r.URL.Query()
	sig := q.Get("signature")
	q.Del("signature")
	exp, _ := strconv.ParseInt(q.Get("expires"), 10, 64)
	if !hmac.Equal([]byte(sig), []byte(b.sign(r.Method, key, q))) || time.Now().Unix() > exp {
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch")
		return
	}
	switch r.Method {
	case http.MethodPut:
		b.servePart(w, r, q)
	case http.MethodGet:
		b.serveGet(w, r, key, q)
	default:
		s3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed")
	}
}

func (b *Blobs) servePart(w http.ResponseWriter, r *http.Request, q url.Values) {
	data, err := readbody.All(io.LimitReader(r.Body, 5<<30), r.ContentLength)
	size, _ := strconv.ParseInt(q.Get("size"), 10, 64)
	switch {
	case err != nil:
		s3Error(w, http.StatusBadRequest, "IncompleteBody")
		return
	case int64(len(data)) != size || r.ContentLength != size:
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch") // the length is signed
		return
	case q.Get("checksum") != "" && r.Header.Get("X-Amz-Checksum-"+strings.ToLower(q.Get("alg"))) != q.Get("checksum"):
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch") // so is the checksum header
		return
	case q.Get("checksum") != "" && crc.Of(q.Get("alg"), data) != q.Get("checksum"):
		s3Error(w, http.StatusBadRequest, "BadDigest")
		return
	}
	n, _ := strconv.Atoi(q.Get("partNumber"))
	p, err := b.putPart(q.Get("uploadId"), int32(n), data)
	if err != nil {
		s3Error(w, http.StatusNotFound, "NoSuchUpload")
		return
	}
	w.Header().Set("ETag", p.ETag)
	w.WriteHeader(http.StatusOK)
}

func (b *Blobs) serveGet(w http.ResponseWriter, r *http.Request, key string, q url.Values) {
	var v object
	err := b.do(func() error {
		i := slices.IndexFunc(b.objects[key], func(o object) bool { return o.version == q.Get("versionId") && !o.marker })
		if i < 0 {
			return apperr.ErrNotFound
		}
		v = b.objects[key][i]
		return nil
	})
	if err != nil {
		s3Error(w, http.StatusNotFound, "NoSuchVersion")
		return
	}
	w.Header().Set("Content-Disposition", q.Get("response-content-disposition"))
	w.Header().Set("Content-Type", q.Get("response-content-type"))
	// ranges as S3 serves them (206, Content-Range; 416 past the end)
	w.Header().Set("Accept-Ranges", "bytes")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(v.data))
}

func (b *Blobs) servePost(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		s3Error(w, http.StatusBadRequest, "MalformedPOSTRequest")
		return
	}
	var p policy
	raw, _ := base64.StdEncoding.DecodeString(r.FormValue("policy"))
	key := r.FormValue("key")
	if json.Unmarshal(raw, &p) != nil || p.Key != key ||
		!hmac.Equal([]byte(r.FormValue("signature")), []byte(b.sign(http.MethodPost, key, url.Values{"policy": {r.FormValue("policy")}}))) ||
		time.Now().Unix() > p.Expires || r.FormValue("Content-Type") != p.ContentType {
		s3Error(w, http.StatusForbidden, "AccessDenied")
		return
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		s3Error(w, http.StatusBadRequest, "MalformedPOSTRequest")
		return
	}
	data, _ := io.ReadAll(f)
	if int64(len(data)) != p.Size {
		s3Error(w, http.StatusBadRequest, "EntityTooSmall") // outside content-length-range
		return
	}
	_ = b.do(func() error {
		b.put(key, p.ContentType, "", data)
		return nil
	})
	w.WriteHeader(http.StatusNoContent)
}

// Pieces implements relay.Blobs: current objects under prefix after
// startAfter, in key order.
func (b *Blobs) Pieces(_ context.Context, prefix, startAfter string) ([]relay.Piece, error) {
	var out []relay.Piece
	err := b.do(func() error {
		for key := range b.objects {
			if v, ok := b.current(key); ok && strings.HasPrefix(key, prefix) && key > startAfter {
				out = append(out, relay.Piece{Key: key, Size: int64(len(v.data))})
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b relay.Piece) int { return strings.Compare(a.Key, b.Key) })
	return out, err
}

// GetObject implements relay.Blobs.
func (b *Blobs) GetObject(_ context.Context, key string) ([]byte, error) {
	var data []byte
	err := b.do(func() error {
		v, ok := b.current(key)
		if !ok {
			return apperr.ErrNotFound
		}
		data = slices.Clone(v.data)
		return nil
	})
	return data, err
}

// ReadVersion implements previews.Sources.
func (b *Blobs) ReadVersion(_ context.Context, key, versionID string, max int64) ([]byte, error) {
	var data []byte
	err := b.do(func() error {
		for _, v := range b.objects[key] {
			if !v.marker && (v.version == versionID || versionID == "") {
				data = v.data
			}
		}
		switch {
		case data == nil:
			return apperr.ErrNotFound
		case int64(len(data)) > max:
			return previews.ErrTooLarge
		}
		data = slices.Clone(data)
		return nil
	})
	return data, err
}

// Remove deletes every version of key (the previews' bucket keeps none).
func (b *Blobs) Remove(_ context.Context, key string) error {
	return b.do(func() error {
		delete(b.objects, key)
		return nil
	})
}

// UploadPart implements relay.Blobs: a part the API uploads itself.
func (b *Blobs) UploadPart(_ context.Context, _, uploadID string, part int32, body []byte) error {
	_, err := b.putPart(uploadID, part, slices.Clone(body))
	return err
}

// putPart records part n of an upload.
func (b *Blobs) putPart(uploadID string, n int32, data []byte) (upload.Part, error) {
	sum := md5.Sum(data)
	p := upload.Part{Number: n, ETag: `"` + hex.EncodeToString(sum[:]) + `"`, Size: int64(len(data))}
	err := b.do(func() error {
		u, ok := b.uploads[uploadID]
		if !ok {
			return apperr.ErrNoSuchUpload
		}
		if u.alg != "" {
			p.Checksum = crc.Of(u.alg, data)
		}
		u.parts[n], u.data[n] = p, data
		return nil
	})
	return p, err
}
