// Package devserver runs Anexo on one machine (make run, and the end-to-end
// suite in shared/testing/e2e): embedded DynamoDB (minidyn) and S3 (versitygw) on
// loopback, every function's handler with its IAM policy enforced, the S3
// events the recorder needs, the sweeper on a timer, and a router that turns
// HTTP requests into API Gateway v2 events exactly as API Gateway does,
// authorizer included.
package devserver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	minidyn "github.com/truora/minidyn/server"
	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"
	"github.com/versity/versitygw/s3err"
	"github.com/versity/versitygw/s3response"

	"github.com/anexo/anexo/shared/domain/scanning"
)

// S3Credentials are the embedded S3 root user's, generated at random when
// it starts (once per process): nothing outside this process can sign a
// request to it. Empty before StartS3.
func S3Credentials() (accessKey, secretKey string) {
	if c := s3Creds.Load(); c != nil {
		return c[0], c[1]
	}
	return "", ""
}

var s3Creds atomic.Pointer[[2]string]

func randomKey(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// StartDynamo serves an in-memory DynamoDB on 127.0.0.1 and returns its URL.
func StartDynamo(ctx context.Context) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	u := "http://" + ln.Addr().String()
	tap := &streamTap{next: &removeFix{next: queryFix{next: minidyn.NewServer()}}, subs: map[string]*Stream{}}
	tapsMu.Lock()
	taps[u] = tap
	tapsMu.Unlock()
	srv := &http.Server{Handler: tap, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	context.AfterFunc(ctx, func() {
		_ = srv.Close()
		tapsMu.Lock()
		delete(taps, u)
		tapsMu.Unlock()
	})
	return u, nil
}

var (
	s3Once sync.Once
	// embeddedS3URL is the embedded S3's URL once it runs.
	embeddedS3URL atomic.Pointer[string]
	s3URL         string
	s3Err         error
)

// StartS3 runs versitygw (posix backend with versioning) rooted in dir and
// returns its URL. versitygw allows one gateway per process, so later calls
// return the first gateway. Note: the posix backend changes the process's
// working directory to its root; callers resolve paths before calling.
func StartS3(dir string) (string, error) {
	s3Once.Do(func() {
		s3URL, s3Err = startS3(dir)
		embeddedS3URL.Store(&s3URL)
	})
	return s3URL, s3Err
}

func startS3(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	root, side, vers := filepath.Join(dir, "data"), filepath.Join(dir, "meta"), filepath.Join(dir, "versions")
	for _, d := range []string{root, side, vers} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	sc, err := meta.NewSideCar(side)
	if err != nil {
		return "", fmt.Errorf("sidecar: %w", err)
	}
	be, err := posix.New(root, sc, posix.PosixOpts{VersioningDir: vers, SideCarDir: side})
	if err != nil {
		return "", fmt.Errorf("posix backend: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	creds := [2]string{"ANX" + randomKey(17), randomKey(40)}
	s3Creds.Store(&creds)
	// Browsers upload straight to it; which pages may is each bucket's CORS
	// configuration (Provision sets the local server's origin), as on AWS:
	// no default origin.
	// Connections are kept alive, as S3 keeps them (versitygw closes each
	// after one request unless told: a client paid a new connection per
	// part, Node's several times Go's).
	cfg := &embedgw.Config{RootUserAccess: creds[0], RootUserSecret: creds[1], Region: "us-east-1",
		Ports: []string{addr}, MaxConnections: 1000, MaxRequests: 1000, MultipartMaxParts: 10000, Quiet: true, KeepAlive: true}
	errc := make(chan error, 1)
	go func() {
		// The banner goes to stdout; keep it out of `make run` output.
		errc <- embedgw.RunVersityGW(context.Background(), newPosixFix(be, sc), cfg)
	}()
	if err := waitListening(addr, errc); err != nil {
		return "", fmt.Errorf("versitygw: %w", err)
	}
	return "http://" + addr, nil
}

// posixFix makes versitygw's posix backend answer as S3 does where the
// difference shows:
//   - a delete of a version that is already gone succeeds (the backend checks
//     that the version exists, then removes its file: two deletes of one
//     version at the same moment — a discarded upload and the recorder's
//     clean-up — made the second fail with a 500 "no such file");
//   - completing a multipart upload is atomic: S3 shows an upload before or
//     after its completion, never half-assembled. The backend assembles in
//     place, so a concurrent ListParts listed some or none of the parts, and
//     a second CompleteMultipartUpload answered success without a version
//     id. Completion, ListParts and abort of one upload take turns here;
//   - a write on a key whose latest version is a delete marker makes a
//     version of the new bytes (a form upload replayed after its file was
//     trashed): the backend kept the marker's flag, in the sidecar, on the
//     object it wrote, so the new bytes were listed as a delete marker that
//     nothing could see or clean;
//   - an object tagged GuardDutyMalwareScanStatus=THREATS_FOUND is served to
//     nobody (GetObject and HeadObject answer AccessDenied), as the stack's
//     bucket policy denies it on AWS: a URL signed before the verdict
//     cannot fetch it after.
type posixFix struct {
	*posix.Posix
	side  meta.SideCar
	mu    sync.Mutex
	locks map[string]*sync.Mutex // by upload id
}

func newPosixFix(p *posix.Posix, side meta.SideCar) *posixFix {
	return &posixFix{Posix: p, side: side, locks: map[string]*sync.Mutex{}}
}

// deleteMarkerAttr is the backend's flag of a delete marker.
const deleteMarkerAttr = "delete-marker"

// written drops the delete-marker flag the object at bucket/key may have
// inherited from the marker it replaced.
func (f *posixFix) written(bucket, key *string, err error) error {
	if err == nil {
		if derr := f.side.DeleteAttribute(aws.ToString(bucket), aws.ToString(key), deleteMarkerAttr); derr != nil && !errors.Is(derr, meta.ErrNoSuchKey) {
			return derr
		}
	}
	return err
}

func (f *posixFix) PutObject(ctx context.Context, in s3response.PutObjectInput) (s3response.PutObjectOutput, error) {
	out, err := f.Posix.PutObject(ctx, in)
	return out, f.written(in.Bucket, in.Key, err)
}

// upload locks one upload id and returns the unlock.
func (f *posixFix) upload(id *string) func() {
	f.mu.Lock()
	l, ok := f.locks[aws.ToString(id)]
	if !ok {
		l = &sync.Mutex{}
		f.locks[aws.ToString(id)] = l
	}
	f.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// infected refuses a read of an object version the scanner tagged
// THREATS_FOUND.
func (f *posixFix) infected(ctx context.Context, bucket, key, version *string) error {
	tags, err := f.Posix.GetObjectTagging(ctx, aws.ToString(bucket), aws.ToString(key), aws.ToString(version))
	if err == nil && tags[scanning.Tag] == "THREATS_FOUND" {
		return s3err.GetAPIError(s3err.ErrAccessDenied)
	}
	return nil
}

func (f *posixFix) GetObject(ctx context.Context, in *s3.GetObjectInput) (*s3.GetObjectOutput, error) {
	if err := f.infected(ctx, in.Bucket, in.Key, in.VersionId); err != nil {
		return nil, err
	}
	return f.Posix.GetObject(ctx, in)
}

func (f *posixFix) HeadObject(ctx context.Context, in *s3.HeadObjectInput) (*s3.HeadObjectOutput, error) {
	if err := f.infected(ctx, in.Bucket, in.Key, in.VersionId); err != nil {
		return nil, err
	}
	return f.Posix.HeadObject(ctx, in)
}

func (f *posixFix) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput) (*s3.DeleteObjectOutput, error) {
	out, err := f.Posix.DeleteObject(ctx, in)
	if err != nil && in.VersionId != nil && errors.Is(err, fs.ErrNotExist) {
		return &s3.DeleteObjectOutput{VersionId: in.VersionId}, nil
	}
	return out, err
}

func (f *posixFix) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput) (s3response.CompleteMultipartUploadResult, string, error) {
	defer f.upload(in.UploadId)()
	out, v, err := f.Posix.CompleteMultipartUpload(ctx, in)
	return out, v, f.written(in.Bucket, in.Key, err)
}

func (f *posixFix) ListParts(ctx context.Context, in *s3.ListPartsInput) (s3response.ListPartsResult, error) {
	defer f.upload(in.UploadId)()
	return f.Posix.ListParts(ctx, in)
}

func (f *posixFix) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput) error {
	defer f.upload(in.UploadId)()
	return f.Posix.AbortMultipartUpload(ctx, in)
}

// isEmbeddedS3 reports whether endpoint is this process's embedded S3.
func isEmbeddedS3(endpoint string) bool {
	u := embeddedS3URL.Load()
	return u != nil && *u != "" && *u == endpoint
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitListening(addr string, errc <-chan error) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-errc:
			if err == nil {
				err = errors.New("exited")
			}
			return err
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not listening after 20s", addr)
}
