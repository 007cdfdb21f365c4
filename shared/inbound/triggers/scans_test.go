package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/scanning"
)

// sample reads a scan result event of events/scans.
func sample(t *testing.T, name string) events.EventBridgeEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "events", "scans", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestParseScanResult: each of GuardDuty's result statuses, in the
// documented event shape (events/scans), becomes its verdict with the
// object's key and version; events of other sources, types or buckets are
// not verdicts; an unreadable detail is an error.
func TestParseScanResult(t *testing.T) {
	const key = "00000000-0000-4000-8000-000000000001/01a2143a-1ccf-7555-bf7f-8e8ee42c9f8c/01a2143a-1cce-7a70-988b-30aa72c5b14d"
	for name, want := range map[string]files.ScanStatus{
		"threats-found.json": files.ScanInfected, "no-threats-found.json": files.ScanClean,
		"unsupported.json": files.ScanUnsupported, "access-denied.json": files.ScanFailed, "failed.json": files.ScanFailed,
	} {
		v, ok, err := ParseScanResult(sample(t, name), "anexo-files")
		if err != nil || !ok || v.Status != want || v.Key != key || v.S3Version != "sample-version-id" || v.At.IsZero() {
			t.Errorf("%s: %+v %v %v, want %s", name, v, ok, err, want)
		}
		if wantThreats := want == files.ScanInfected; wantThreats != slices.Equal(v.Threats, []string{"EICAR-Test-File (not a virus)"}) {
			t.Errorf("%s: threats %v", name, v.Threats)
		}
	}
	ev := sample(t, "threats-found.json")
	if _, ok, err := ParseScanResult(ev, "another-bucket"); ok || err != nil {
		t.Errorf("another bucket's result: %v %v", ok, err)
	}
	other := ev
	other.DetailType = "GuardDuty Malware Protection Post Scan Action Failed"
	if _, ok, err := ParseScanResult(other, "anexo-files"); ok || err != nil {
		t.Errorf("another detail type: %v %v", ok, err)
	}
	broken := ev
	broken.Detail = json.RawMessage(`{"scanStatus": 7}`)
	if _, _, err := ParseScanResult(broken, "anexo-files"); err == nil {
		t.Error("an unreadable detail parsed")
	}
	unknown := sample(t, "failed.json")
	unknown.Detail = json.RawMessage(`{"scanStatus":"SKIPPED","resourceType":"S3_OBJECT","s3ObjectDetails":{"bucketName":"anexo-files","objectKey":"a%2Fb"},"scanResultDetails":{"scanResultStatus":"SOMETHING_NEW"}}`)
	if v, ok, err := ParseScanResult(unknown, "anexo-files"); !ok || err != nil || v.Status != files.ScanUnsupported || v.Key != "a/b" {
		t.Errorf("an unknown result status of a skipped scan: %+v %v %v", v, ok, err)
	}
}

type verdicts struct {
	got []scanning.Verdict
	err error
}

func (r *verdicts) Record(_ context.Context, v scanning.Verdict) (scanning.Outcome, error) {
	r.got = append(r.got, v)
	return scanning.Recorded, r.err
}

// TestScansTrigger: a result is recorded; a failure to record fails the
// invocation (retried, then the failure destination), as does an
// unreadable event; another bucket's result is ignored.
func TestScansTrigger(t *testing.T) {
	r := &verdicts{}
	h := Scans(quiet, "anexo-files", r)
	ctx := context.Background()
	if err := h(ctx, sample(t, "threats-found.json")); err != nil || len(r.got) != 1 || r.got[0].Status != files.ScanInfected {
		t.Fatalf("recorded %+v, %v", r.got, err)
	}
	if err := Scans(quiet, "another", r)(ctx, sample(t, "no-threats-found.json")); err != nil || len(r.got) != 1 {
		t.Fatalf("another bucket's result: %v, %d recorded", err, len(r.got))
	}
	r.err = errors.New("table unavailable")
	if err := h(ctx, sample(t, "no-threats-found.json")); err == nil {
		t.Fatal("a failed record succeeded")
	}
	broken := sample(t, "failed.json")
	broken.Detail = json.RawMessage(`[]`)
	if err := h(ctx, broken); err == nil {
		t.Fatal("an unreadable event succeeded")
	}
}
