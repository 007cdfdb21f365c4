// Package testenv gives tests real backends: the embedded emulators and
// moto_server (started once per test binary; required when CI=true).
package testenv

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anexo/anexo/shared/adapters/dynamo"
	"github.com/anexo/anexo/shared/platform/app"
	"github.com/anexo/anexo/shared/platform/awsconfig"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/platform/iam"
)

var (
	dataDir string
	seq     atomic.Int64
)

var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

// AtExit runs f after the package's tests (Main), for what several tests
// share.
func AtExit(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}

// Main runs a package's tests, then checks over the whole run (each
// failing it), and removes the emulator data afterwards.
func Main(m *testing.M, checks ...func() error) {
	code := m.Run()
	for _, check := range checks {
		if err := check(); err != nil && code == 0 {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			code = 1
		}
	}
	for _, f := range cleanups {
		f()
	}
	if err := iam.WriteUsage(); err != nil {
		fmt.Fprintln(os.Stderr, "iam usage:", err)
		code = 1
	}
	if dataDir != "" {
		_ = os.Chdir(os.TempDir())
		_ = os.RemoveAll(dataDir)
	}
	os.Exit(code)
}

// WholeRun reports a run of every test of the package (no -run, no
// -short): checks over the whole suite hold only then.
func WholeRun() bool {
	f := flag.Lookup("test.run")
	return f != nil && f.Value.String() == "" && !testing.Short()
}

// Unique returns a name unique within this process, valid for tables and buckets.
func Unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), seq.Add(1))
}

// skipShort skips a test that needs an emulator under -short (make check).
func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the emulators: not under -short")
	}
}

// Dynamo starts an embedded DynamoDB for the test.
func Dynamo(t testing.TB) string {
	skipShort(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	u, err := devserver.StartDynamo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var s3Mu sync.Mutex

// S3 returns the process's embedded versitygw.
func S3(t testing.TB) string {
	skipShort(t)
	s3Mu.Lock()
	defer s3Mu.Unlock()
	if dataDir == "" {
		d, err := os.MkdirTemp("", "anexo-test-s3-")
		if err != nil {
			t.Fatal(err)
		}
		dataDir = d
	}
	u, err := devserver.StartS3(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// motoServers is how many moto_server processes a test binary starts.
// One serves one request at a time, so parallel tests would queue on a
// single one; each Moto call takes the next server in turn.
const motoServers = 2

var (
	motos [motoServers]struct {
		once sync.Once
		url  string
		err  error
	}
	motoNext atomic.Uint32
)

// Moto returns the URL of a moto_server serving DynamoDB and S3. Without
// moto_server the test is skipped, except under CI=true where it fails.
func Moto(t testing.TB) string {
	skipShort(t)
	m := &motos[motoNext.Add(1)%motoServers]
	m.once.Do(func() { m.url, m.err = startMoto() })
	if m.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("moto_server is required in CI: %v", m.err)
		}
		t.Skipf("moto_server unavailable: %v", m.err)
	}
	return m.url
}

func startMoto() (string, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	started := make(chan error, 1)
	// Pdeathsig is tied to the OS thread that forks: keep that thread alive
	// for the life of the process so moto dies with the test binary.
	go func() {
		runtime.LockOSThread()
		cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.Stdout, cmd.Stderr = nil, nil
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		return "", err
	}
	u := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(u + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return u, nil
		}
		if !strings.Contains(err.Error(), "refused") {
			return "", err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "", fmt.Errorf("moto_server did not start on port %d", port)
}

// Backend is a pair of DynamoDB and S3 endpoints with their credentials.
type Backend struct {
	Name      string
	Dynamo    string
	S3        string
	AccessKey string
	SecretKey string
}

// Embedded is minidyn + versitygw.
func Embedded(t testing.TB) Backend {
	u := S3(t)
	ak, sk := devserver.S3Credentials()
	return Backend{Name: "embedded", Dynamo: Dynamo(t), S3: u, AccessKey: ak, SecretKey: sk}
}

// Memory is no backend at all: the memory drivers (devserver.StartMemory).
// It needs no emulator, so it runs under -short too.
func Memory() Backend { return Backend{Name: "memory"} }

// InMemory reports the memory drivers.
func (b Backend) InMemory() bool { return b.Name == "memory" }

// MotoBackend is moto_server for both services.
func MotoBackend(t testing.TB) Backend {
	u := Moto(t)
	return Backend{Name: "moto", Dynamo: u, S3: u, AccessKey: "test", SecretKey: "test"}
}

// Each runs f once per emulator (On with embedded and moto).
func Each(t *testing.T, f func(t *testing.T, be Backend)) {
	On(t, []string{"embedded", "moto"}, f)
}

// On runs f once per named backend ("memory", "embedded", "moto") as
// parallel subtests (moto_server works in a process of its own, so its
// part overlaps the others); moto is skipped (or, in CI, fails) when
// moto_server is absent. f must not share state between the runs.
func On(t *testing.T, backends []string, f func(t *testing.T, be Backend)) {
	for _, name := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			switch name {
			case "memory":
				f(t, Memory())
			case "embedded":
				f(t, Embedded(t))
			case "moto":
				f(t, MotoBackend(t))
			default:
				t.Fatalf("no backend %q", name)
			}
		})
	}
}

// Config is an app configuration on be with a fresh table and bucket. The
// functions' logs are discarded unless ANEXO_TEST_LOG=1 (then on stderr).
func Config(be Backend) app.Config {
	var logs io.Writer = io.Discard
	if os.Getenv("ANEXO_TEST_LOG") == "1" {
		logs = os.Stderr
	}
	return app.Config{Table: Unique("anexo"), Bucket: Unique("anexo"), Region: "us-east-1",
		DynamoEndpoint: be.Dynamo, S3Endpoint: be.S3, AccessKey: be.AccessKey, SecretKey: be.SecretKey,
		Log: slog.New(slog.NewTextHandler(logs, nil))}
}

// Connect builds provisioned dependencies for c.
func Connect(t testing.TB, c app.Config) *app.Deps {
	t.Helper()
	d, err := awsconfig.App(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Provision(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

// ConnectDynamo builds dependencies and provisions only the table.
func ConnectDynamo(t testing.TB, c app.Config) *app.Deps {
	t.Helper()
	d, err := awsconfig.App(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := dynamo.EnsureTable(context.Background(), d.DynamoDB(), c.Table); err != nil {
		t.Fatal(err)
	}
	if err := dynamo.EnsureKeysTable(context.Background(), d.DynamoDB(), c.KeysTableName()); err != nil {
		t.Fatal(err)
	}
	return d
}
