package e2e_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/anexo/anexo/shared/inbound/lambdas"
	"github.com/anexo/anexo/shared/platform/devserver"
	"github.com/anexo/anexo/shared/platform/iam"
	"github.com/anexo/anexo/shared/testing/testenv"
)

// withoutGrant runs f with one grant removed from a function's policy, and
// returns the calls its policy refused meanwhile.
func (e *env) withoutGrant(fn string, a iam.Access, f func()) []string {
	enf := e.srv.Function(fn).Enforcer
	full := enf.Policy
	enf.Policy = full.Without(a)
	defer func() { enf.Policy = full; enf.ResetDenied() }()
	f()
	return enf.Denied()
}

// TestPolicyEnforced: local mode refuses, as AWS would, a call outside the
// function's policy — removing one permission breaks the flow that needs
// it, and the refusal names the action and the resource. A read of a
// missing object without s3:ListBucket answers 403, as S3 does.
func TestPolicyEnforced(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.Embedded(t))
	c := e.account(0, "")
	f := c.upload("a.txt", []byte("abc"), nil)
	trash := []map[string]any{{"uuid": f["uuid"]}}

	denied := e.withoutGrant(lambdas.Files, iam.Access{Action: "s3:DeleteObject", Resource: iam.Resource{Kind: iam.KindObjects}}, func() {
		if r := c.do("DELETE", "/v1/files", trash); r.Status == 200 {
			t.Fatalf("trash without s3:DeleteObject: %s", r)
		}
	})
	if len(denied) == 0 || !strings.Contains(denied[0], "s3:DeleteObject on resource: arn:aws:s3:::") {
		t.Fatalf("refusals: %v", denied)
	}
	c.expect(200, "DELETE", "/v1/files", trash) // the retry with the permission finishes it
	if r := c.do("GET", "/v1/files/"+f["uuid"].(string)+"/download", nil); r.Status != 404 && r.Status != 410 {
		t.Fatalf("download of a trashed file: %s", r)
	}

	// a form upload not posted yet is a missing key
	_, fields := c.ticket(0).params("later.bin", 10)
	session := "/v1/sessions/" + strings.Split(fields["key"], "/")[2]
	denied = e.withoutGrant(lambdas.SessionsParts, iam.Access{Action: "s3:ListBucket", Resource: iam.Resource{Kind: iam.KindBucket}}, func() {
		if r := c.do("GET", session, nil); r.Status != 500 {
			t.Fatalf("status without s3:ListBucket: %s, want 500 (S3 answers 403)", r)
		}
	})
	if len(denied) != 1 || !strings.Contains(denied[0], "AWS answers 403") {
		t.Fatalf("refusals: %v", denied)
	}
	if st := c.expect(200, "GET", session, nil); st["session"].(map[string]any)["status"] != "open" {
		t.Fatal(st)
	}
}

// TestPolicyWithAKey: with the data encrypted under a key of the
// deployment's own (the stack's kmsKey), every function also needs the
// key's actions its calls use, and local mode checks them: an upload in
// parts, its download, a webhook delivered through the queue all pass
// with the policies' derived key grants (iam.Policy.WithKey), and a
// completion without kms:Decrypt is refused as AWS would (S3 reads the
// parts back).
func TestPolicyWithAKey(t *testing.T) {
	t.Parallel()
	const key = "arn:aws:kms:us-east-1:000000000000:key/1b0e6d1a-0000-4000-8000-000000000000"
	e := start(t, testenv.Embedded(t), func(o *devserver.Options) { o.Config.KMSKey = key })
	c := e.account(0, "")
	r := newReceiver(t, e.clock.Now)
	c.hook(r, map[string]any{"types": []string{"file.created"}})
	data := random(6 << 20)
	f := c.upload("a.bin", data, nil)
	if got, _ := c.download(f["uuid"].(string), ""); !bytes.Equal(got, data) {
		t.Fatal("the download differs")
	}
	if got := r.waitFor(1); len(got) != 1 {
		t.Fatalf("deliveries %v", got)
	}
	decrypt := iam.Access{Action: "kms:Decrypt", Resource: iam.Resource{Kind: iam.KindKMSKey}}
	denied := e.withoutGrant(lambdas.SessionsComplete, decrypt, func() {
		s := c.open("b.bin", 10, nil)
		c.putParts(random(10), int64(s["part_size"].(float64)), partsOf(s))
		if r := c.do("POST", "/v1/sessions/"+s["id"].(string)+"/complete", nil); r.Status == 200 {
			t.Fatalf("a completion without kms:Decrypt: %s", r)
		}
	})
	if len(denied) == 0 || !strings.Contains(denied[0], "kms:Decrypt on resource: "+key) {
		t.Fatalf("refusals: %v", denied)
	}
}
