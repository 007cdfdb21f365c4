// Package connect wires a process outside Lambda — the admin command, the
// local server, tests — with the SDK's own configuration loader
// (environment, shared files, profiles, SSO). Functions wire with
// app.Lambda instead, which keeps the loader out of their binaries.
package connect

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/anexo/anexo/shared/app"
)

// App wires a process from c; emulator endpoints without credentials get
// the emulator placeholders.
func App(ctx context.Context, c app.Config) (*app.Deps, error) {
	if c.AccessKey == "" && c.Emulated() && os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		c.AccessKey, c.SecretKey = app.EmulatorAccessKey, app.EmulatorSecretKey
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
