// Package awsconfig wires a process outside Lambda — the admin command, the
// local server, tests — with the SDK's own configuration loader
// (environment, shared files, profiles, SSO). Functions wire with
// app.Lambda instead, which keeps the loader out of their binaries.
package awsconfig

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/anexo/anexo/shared/platform/app"
)

// Placeholder credentials for emulator endpoints when none are set (moto
// and minidyn accept any signature; the SDK's loader would otherwise look
// for credentials elsewhere and fail). The embedded S3 does not accept
// them: it has keys of its own, generated per run (devserver.S3Credentials).
const (
	EmulatorAccessKey = "anexo-emulator"
	EmulatorSecretKey = "anexo-emulator-secret-key"
)

// App wires a process from c; emulator endpoints without credentials get
// the emulator placeholders.
func App(ctx context.Context, c app.Config) (*app.Deps, error) {
	emulated := c.DynamoEndpoint != "" || c.S3Endpoint != ""
	if c.AccessKey == "" && emulated && os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		c.AccessKey, c.SecretKey = EmulatorAccessKey, EmulatorSecretKey
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(c.Region)}
	if c.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return app.New(c, awsCfg)
}
