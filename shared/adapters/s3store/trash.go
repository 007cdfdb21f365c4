package s3store

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/anexo/anexo/shared/base/apperr"
)

// versions lists every version and delete marker of exactly key.
func (s *Store) versions(ctx context.Context, key string) ([]types.ObjectVersion, []types.DeleteMarkerEntry, error) {
	var vs []types.ObjectVersion
	var ms []types.DeleteMarkerEntry
	in := &s3.ListObjectVersionsInput{Bucket: &s.bucket, Prefix: &key}
	for {
		out, err := s.api.ListObjectVersions(ctx, in)
		if err != nil {
			return nil, nil, mapErr(err)
		}
		for _, v := range out.Versions {
			if aws.ToString(v.Key) == key {
				vs = append(vs, v)
			}
		}
		for _, m := range out.DeleteMarkers {
			if aws.ToString(m.Key) == key {
				ms = append(ms, m)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return vs, ms, nil
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
}

// Versions lists the version ids of exactly key (delete markers aside).
func (s *Store) Versions(ctx context.Context, key string) ([]string, error) {
	vs, _, err := s.versions(ctx, key)
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = aws.ToString(v.VersionId)
	}
	return ids, err
}

// Hide puts a delete marker on key unless one is already current, so the
// bytes become a noncurrent version that the lifecycle rule expires 30 days
// later. Idempotent.
func (s *Store) Hide(ctx context.Context, key string) error {
	_, ms, err := s.versions(ctx, key)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if aws.ToBool(m.IsLatest) {
			return nil
		}
	}
	_, err = s.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
	return mapErr(err)
}

// Unhide removes every delete marker of key, making its bytes current
// again. Idempotent.
func (s *Store) Unhide(ctx context.Context, key string) error {
	_, ms, err := s.versions(ctx, key)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := s.deleteListed(ctx, key, m.VersionId); err != nil {
			return err
		}
	}
	return nil
}

// Erase permanently deletes every version and delete marker of key.
func (s *Store) Erase(ctx context.Context, key string) error {
	vs, ms, err := s.versions(ctx, key)
	if err != nil {
		return err
	}
	ids := make([]*string, 0, len(vs)+len(ms))
	for _, v := range vs {
		ids = append(ids, v.VersionId)
	}
	for _, m := range ms {
		ids = append(ids, m.VersionId)
	}
	for _, id := range ids {
		if err := s.deleteListed(ctx, key, id); err != nil {
			return err
		}
	}
	return nil
}

// deleteListed deletes a version (or delete marker) that a listing showed;
// a concurrent request may have deleted it since, which is no error. S3
// answers a deleted version's id with success or NoSuchVersion; versitygw
// with InvalidArgument "Invalid version id specified" (the id came from
// the listing, so it is well formed).
func (s *Store) deleteListed(ctx context.Context, key string, versionID *string) error {
	_, err := s.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key, VersionId: versionID})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "InvalidArgument" && strings.Contains(ae.ErrorMessage(), "version id") {
		return nil
	}
	if err = mapErr(err); errors.Is(err, apperr.ErrNotFound) {
		return nil
	}
	return err
}
