// Package s3store keeps file bytes in one versioned S3 bucket: multipart
// uploads that clients fill through presigned part URLs, presigned
// downloads, and delete markers. It maps S3 errors to apperr sentinels.
package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/anexo/anexo/shared/base/apperr"
	"github.com/anexo/anexo/shared/base/crc"
	"github.com/anexo/anexo/shared/base/readbody"
	"github.com/anexo/anexo/shared/domain/previews"
	"github.com/anexo/anexo/shared/domain/relay"
	"github.com/anexo/anexo/shared/domain/scanning"
	"github.com/anexo/anexo/shared/domain/upload"
)

// API is the slice of the S3 client the store uses (tusd-style narrow port).
type API interface {
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	ListParts(ctx context.Context, in *s3.ListPartsInput, opts ...func(*s3.Options)) (*s3.ListPartsOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, opts ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	GetObjectTagging(ctx context.Context, in *s3.GetObjectTaggingInput, opts ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error)
}

// Presigner is the slice of s3.PresignClient the store uses. Presigning is
// local computation: no request leaves the process.
type Presigner interface {
	PresignUploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
	PresignGetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
	PresignPostObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.PresignPostOptions)) (*s3.PresignedPostRequest, error)
}

// Store is the bucket.
type Store struct {
	api     API
	presign Presigner
	bucket  string
}

// New builds a store; presign is usually s3.NewPresignClient(client).
func New(api API, presign Presigner, bucket string) *Store {
	return &Store{api: api, presign: presign, bucket: bucket}
}

// ClientOptions are the options every Anexo S3 client needs: checksums only
// where S3 requires them (presigned URLs must not carry SDK-computed ones).
func ClientOptions(o *s3.Options) {
	o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
}

func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchUpload":
			return fmt.Errorf("%w: %v", apperr.ErrNoSuchUpload, err)
		case "NoSuchKey", "NotFound", "NoSuchVersion":
			return fmt.Errorf("%w: %v", apperr.ErrNotFound, err)
		case "BadDigest", "InvalidChecksum":
			return fmt.Errorf("%w: %v", apperr.ErrBadDigest, err)
		case "InvalidPart", "InvalidPartOrder", "EntityTooSmall":
			return fmt.Errorf("%w: %v", apperr.ErrInvalidPart, err)
		case "PreconditionFailed", "ConditionalRequestConflict":
			return fmt.Errorf("%w: %v", apperr.ErrConflict, err)
		}
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return fmt.Errorf("%w: %v", apperr.ErrNotFound, err)
	}
	return err
}

// CreateUpload starts a multipart upload; with a checksum algorithm, S3
// verifies a full-object checksum at completion.
func (s *Store) CreateUpload(ctx context.Context, key, contentType, checksumAlg string) (string, error) {
	in := &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &key, ContentType: aws.String(contentType)}
	if checksumAlg != "" {
		in.ChecksumAlgorithm = types.ChecksumAlgorithm(checksumAlg)
		in.ChecksumType = types.ChecksumTypeFullObject
	}
	out, err := s.api.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", mapErr(err)
	}
	return aws.ToString(out.UploadId), nil
}

// PresignPart signs an UploadPart with its exact Content-Length (and the
// part's checksum header when given) so S3 rejects any other body.
func (s *Store) PresignPart(ctx context.Context, key, uploadID string, part int32, size int64, alg, checksum string, ttl time.Duration) (upload.SignedRequest, error) {
	in := &s3.UploadPartInput{Bucket: &s.bucket, Key: &key, UploadId: &uploadID, PartNumber: &part, ContentLength: &size}
	if checksum != "" {
		setChecksum(alg, checksum, &in.ChecksumCRC32, &in.ChecksumCRC32C, &in.ChecksumCRC64NVME)
	}
	req, err := s.presign.PresignUploadPart(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return upload.SignedRequest{}, err
	}
	return signed(req), nil
}

func signed(req *v4.PresignedHTTPRequest) upload.SignedRequest {
	h := map[string]string{}
	for k, v := range req.SignedHeader {
		if http.CanonicalHeaderKey(k) == "Host" || len(v) == 0 {
			continue
		}
		h[http.CanonicalHeaderKey(k)] = v[0]
	}
	return upload.SignedRequest{URL: req.URL, Method: req.Method, Headers: h}
}

// ListParts returns every uploaded part, following all pages.
func (s *Store) ListParts(ctx context.Context, key, uploadID string) ([]upload.Part, error) {
	var out []upload.Part
	p := s3.NewListPartsPaginator(s.api, &s3.ListPartsInput{Bucket: &s.bucket, Key: &key, UploadId: &uploadID})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, mapErr(err)
		}
		for _, pt := range page.Parts {
			out = append(out, upload.Part{Number: aws.ToInt32(pt.PartNumber), ETag: aws.ToString(pt.ETag), Size: aws.ToInt64(pt.Size),
				Checksum: firstNonEmpty(pt.ChecksumCRC32, pt.ChecksumCRC32C, pt.ChecksumCRC64NVME)})
		}
	}
	return out, nil
}

func firstNonEmpty(vs ...*string) string {
	for _, v := range vs {
		if aws.ToString(v) != "" {
			return *v
		}
	}
	return ""
}

// CompleteUpload assembles the parts; S3 checks the whole-file checksum
// (or, given its algorithm alone, computes it).
func (s *Store) CompleteUpload(ctx context.Context, key, uploadID string, parts []upload.Part, sum *upload.Checksum) (string, error) {
	cp := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		cp[i] = types.CompletedPart{PartNumber: aws.Int32(p.Number), ETag: aws.String(p.ETag)}
		if sum != nil && p.Checksum != "" {
			setChecksum(sum.Algorithm, p.Checksum, &cp[i].ChecksumCRC32, &cp[i].ChecksumCRC32C, &cp[i].ChecksumCRC64NVME)
		}
	}
	in := &s3.CompleteMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cp}}
	if sum != nil {
		in.ChecksumType = types.ChecksumTypeFullObject
		if sum.Value != "" {
			setChecksum(sum.Algorithm, sum.Value, &in.ChecksumCRC32, &in.ChecksumCRC32C, &in.ChecksumCRC64NVME)
		}
	}
	out, err := s.api.CompleteMultipartUpload(ctx, in)
	if err != nil {
		return "", mapErr(err)
	}
	return aws.ToString(out.VersionId), nil
}

// setChecksum stores v in the input field of its algorithm.
func setChecksum(alg, v string, crc32, crc32c, crc64nvme **string) {
	switch alg {
	case "CRC32":
		*crc32 = &v
	case "CRC32C":
		*crc32c = &v
	case "CRC64NVME":
		*crc64nvme = &v
	}
}

// PutObject stores a small object whole (batch uploads, the one path where
// bytes pass through Lambda). The SDK sends a CRC32 of the body that S3
// verifies, so a corrupted request is refused rather than stored.
func (s *Store) PutObject(ctx context.Context, key, contentType string, body []byte) (string, error) {
	out, err := s.api.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: &contentType, ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		return "", mapErr(err)
	}
	return aws.ToString(out.VersionId), nil
}

// PutEmpty stores an empty file's object unless the key already has one
// (If-None-Match: *), so two completions cannot make two versions: the
// loser gets apperr.ErrConflict.
func (s *Store) PutEmpty(ctx context.Context, key, contentType string) (string, error) {
	out, err := s.api.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, Body: http.NoBody,
		ContentLength: aws.Int64(0), ContentType: &contentType, IfNoneMatch: aws.String("*")})
	if err != nil {
		return "", mapErr(err)
	}
	return aws.ToString(out.VersionId), nil
}

// PresignPost signs a browser form upload: the policy pins the exact key,
// the exact size (content-length-range size..size) and the content type.
func (s *Store) PresignPost(ctx context.Context, key, contentType string, size int64, ttl time.Duration) (upload.PostForm, error) {
	req, err := s.presign.PresignPostObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &key}, func(o *s3.PresignPostOptions) {
		o.Expires = ttl
		o.Conditions = []any{[]any{"content-length-range", size, size}, map[string]string{"Content-Type": contentType}}
	})
	if err != nil {
		return upload.PostForm{}, err
	}
	fields := map[string]string{"Content-Type": contentType}
	for k, v := range req.Values {
		fields[k] = v
	}
	url := req.URL
	if !strings.HasSuffix(url, "/") {
		url += "/" // Uppy appends the key to the form URL for the object's location
	}
	return upload.PostForm{URL: url, Fields: fields}, nil
}

// AbortUpload releases an upload's parts.
func (s *Store) AbortUpload(ctx context.Context, key, uploadID string) error {
	_, err := s.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: &uploadID})
	return mapErr(err)
}

// Head reads an object's size and version.
func (s *Store) Head(ctx context.Context, key string) (upload.Object, error) {
	out, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key, ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		return upload.Object{}, mapErr(err)
	}
	obj := upload.Object{Size: aws.ToInt64(out.ContentLength), VersionID: aws.ToString(out.VersionId)}
	if out.ChecksumType != types.ChecksumTypeComposite { // a composite value is not the object's CRC
		for alg, v := range map[string]*string{crc.CRC32: out.ChecksumCRC32, crc.CRC32C: out.ChecksumCRC32C, crc.CRC64NVME: out.ChecksumCRC64NVME} {
			if aws.ToString(v) != "" {
				obj.ChecksumAlg, obj.Checksum = alg, *v
			}
		}
	}
	return obj, nil
}

// ScanTag reads the malware scanner's tag on an object version ("" when
// it has none).
func (s *Store) ScanTag(ctx context.Context, key, versionID string) (string, error) {
	in := &s3.GetObjectTaggingInput{Bucket: &s.bucket, Key: &key}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := s.api.GetObjectTagging(ctx, in)
	if err != nil {
		return "", mapErr(err)
	}
	for _, t := range out.TagSet {
		if aws.ToString(t.Key) == scanning.Tag {
			return aws.ToString(t.Value), nil
		}
	}
	return "", nil
}

// DeleteVersion permanently removes one version (or the object, when the
// bucket has no versioning and versionID is empty).
func (s *Store) DeleteVersion(ctx context.Context, key, versionID string) error {
	in := &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}
	if versionID != "" {
		in.VersionId = &versionID
	}
	_, err := s.api.DeleteObject(ctx, in)
	return mapErr(err)
}

// PresignGet signs a download of one version with the Content-Disposition
// and Content-Type S3 answers with (the response-* overrides, signed).
func (s *Store) PresignGet(ctx context.Context, key, versionID, disposition, contentType string, ttl time.Duration) (string, error) {
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key, ResponseContentDisposition: aws.String(disposition),
		ResponseContentType: aws.String(contentType)}
	if versionID != "" {
		in.VersionId = &versionID
	}
	req, err := s.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", err
	}
	return req.URL, nil
}

// Admin is the client surface EnsureBucket needs.
type Admin interface {
	CreateBucket(ctx context.Context, in *s3.CreateBucketInput, opts ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
	PutBucketVersioning(ctx context.Context, in *s3.PutBucketVersioningInput, opts ...func(*s3.Options)) (*s3.PutBucketVersioningOutput, error)
	PutBucketCors(ctx context.Context, in *s3.PutBucketCorsInput, opts ...func(*s3.Options)) (*s3.PutBucketCorsOutput, error)
}

// EnsurePlainBucket creates an unversioned bucket (the previews') for
// local and test use.
func EnsurePlainBucket(ctx context.Context, api Admin, bucket string) error {
	_, err := api.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}

// EnsureBucket creates a versioned bucket for local and test use (the CDK
// stack owns the real one).
func EnsureBucket(ctx context.Context, api Admin, bucket string, corsOrigins []string) error {
	if err := EnsurePlainBucket(ctx, api, bucket); err != nil {
		return err
	}
	_, err := api.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	if err != nil {
		return fmt.Errorf("enable versioning on %s: %w", bucket, err)
	}
	if len(corsOrigins) == 0 {
		return nil
	}
	// the stack's rule (infra/stack): browsers PUT parts, POST forms, GET
	// downloads, and read the ETag
	_, err = api.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: &bucket, CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedMethods: []string{"GET", "HEAD", "PUT", "POST"}, AllowedOrigins: corsOrigins,
			AllowedHeaders: []string{"*"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: aws.Int32(3000)}}}})
	if err != nil {
		return fmt.Errorf("set CORS on %s: %w", bucket, err)
	}
	return nil
}

// Pieces lists the objects under prefix after startAfter, in key order,
// following every page (package relay's staged pieces).
func (s *Store) Pieces(ctx context.Context, prefix, startAfter string) ([]relay.Piece, error) {
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix}
	if startAfter != "" {
		in.StartAfter = &startAfter
	}
	var out []relay.Piece
	p := s3.NewListObjectsV2Paginator(s.api, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, mapErr(err)
		}
		for _, o := range page.Contents {
			out = append(out, relay.Piece{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size)})
		}
	}
	return out, nil
}

// GetObject reads a small object whole (a staged piece).
func (s *Store) GetObject(ctx context.Context, key string) ([]byte, error) {
	out, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, mapErr(err)
	}
	defer out.Body.Close()
	return readbody.All(out.Body, aws.ToInt64(out.ContentLength))
}

// ReadVersion reads one object version whole (a version to preview):
// previews.ErrTooLarge past max bytes, apperr.ErrNotFound when it is gone.
func (s *Store) ReadVersion(ctx context.Context, key, versionID string, max int64) ([]byte, error) {
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}
	if versionID != "" {
		in.VersionId = &versionID
	}
	out, err := s.api.GetObject(ctx, in)
	if err != nil {
		return nil, mapErr(err)
	}
	defer out.Body.Close()
	if n := aws.ToInt64(out.ContentLength); n > max {
		return nil, fmt.Errorf("%w: %s holds %d bytes", previews.ErrTooLarge, key, n)
	}
	return readbody.All(io.LimitReader(out.Body, max), aws.ToInt64(out.ContentLength))
}

// Remove deletes an object of an unversioned bucket (a preview); a key
// already gone is no error.
func (s *Store) Remove(ctx context.Context, key string) error {
	_, err := s.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
	return mapErr(err)
}

// UploadPart uploads one part of a multipart upload from the API itself
// (package relay), with its MD5 for S3 to verify.
func (s *Store) UploadPart(ctx context.Context, key, uploadID string, part int32, body []byte) error {
	sum := md5.Sum(body)
	_, err := s.api.UploadPart(ctx, &s3.UploadPartInput{Bucket: &s.bucket, Key: &key, UploadId: &uploadID, PartNumber: &part,
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:]))})
	return mapErr(err)
}
