package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/anexo/anexo/shared/testing/testenv"
)

// onlyoffice posts to ONLYOFFICE's attach route as its clients do:
// Authorization carries the bare token.
func (c *client) onlyoffice(path, authz, body string) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("%d %s: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, m
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// jsonKind names a decoded JSON value's type as the seed does.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "integer"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return "?"
}

// checkShape compares an object's fields and their types with a shape
// taken from the seed ("name": "string" | "integer" | "boolean" | nested).
func checkShape(t *testing.T, where string, got map[string]any, want map[string]any) {
	t.Helper()
	if !slices.Equal(keys(got), keys(want)) {
		t.Fatalf("%s: fields %v, want %v", where, keys(got), keys(want))
	}
	for k, w := range want {
		switch w := w.(type) {
		case string:
			if jsonKind(got[k]) != w {
				t.Fatalf("%s.%s: %s (%v), want %s", where, k, jsonKind(got[k]), got[k], w)
			}
		case map[string]any:
			sub, ok := got[k].(map[string]any)
			if !ok {
				t.Fatalf("%s.%s: %v, want an object", where, k, got[k])
			}
			checkShape(t, where+"."+k, sub, w)
		case []any:
			arr, ok := got[k].([]any)
			if !ok {
				t.Fatalf("%s.%s: %v, want an array", where, k, got[k])
			}
			for i, x := range arr {
				checkShape(t, where+"."+k+"[]", x.(map[string]any), w[0].(map[string]any))
				_ = i
			}
		}
	}
}

// The seed's 200 response (onlyoffice-crm-attach-files.txt), field by field.
var (
	ooUser = map[string]any{"Id": "string", "DisplayName": "string", "Title": "string", "AvatarSmall": "string", "ProfileUrl": "string"}
	ooResp = map[string]any{
		"CreateBy": ooUser, "Created": "string", "Content": "string",
		"Category": map[string]any{"ImagePath": "string", "Title": "string", "Description": "string", "Color": "string", "SortOrder": "integer", "ID": "integer"},
		"Contact": map[string]any{"SmallFotoUrl": "string", "MediumFotoUrl": "string", "DisplayName": "string", "IsCompany": "boolean",
			"AccessList": "array", "IsPrivate": "boolean", "IsShared": "boolean", "ShareType": "integer", "Currency": "null",
			"CanEdit": "boolean", "CanDelete": "boolean", "ID": "integer"},
		"Entity":  map[string]any{"EntityType": "string", "EntityId": "integer", "EntityTitle": "string"},
		"CanEdit": "boolean",
		"Files":   []any{map[string]any{"Name": "string", "UpdatedBy": ooUser, "Updated": "string", "Location": "string", "ID": "integer"}},
		"ID":      "integer",
	}
)

func TestOnlyofficeAttach(t *testing.T) {
	t.Parallel()
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		e := start(t, be)
		c := e.account(0, "")
		c.expect(201, "PUT", "/v1/entities/contact/77", map[string]any{"title": "Maria Souza"})
		c.expect(201, "PUT", "/v1/entities/case/5", map[string]any{"title": "Reclamação"})
		f1 := c.upload("contrato.pdf", random(40), nil)
		f2 := c.upload("foto.png", random(50), nil)
		id1, id2 := int(f1["id"].(float64)), int(f2["id"].(float64))
		body := `{"fileids":[` + itoa(id1) + `,` + itoa(id2) + `]}`

		status, m := c.onlyoffice("/api/2.0/crm/contact/77/files", c.token, body)
		if status != 200 {
			t.Fatalf("%d %v", status, m)
		}
		if !slices.Equal(keys(m), []string{"count", "response", "status", "statusCode"}) || m["statusCode"] != 200.0 || m["status"] != 0.0 || m["count"] != 1.0 {
			t.Fatalf("envelope: %v", m)
		}
		r := m["response"].(map[string]any)
		checkShape(t, "response", r, ooResp)
		ent := r["Entity"].(map[string]any)
		if ent["EntityType"] != "contact" || ent["EntityId"] != 77.0 || ent["EntityTitle"] != "Maria Souza" || r["Contact"].(map[string]any)["DisplayName"] != "Maria Souza" {
			t.Fatal(ent)
		}
		fs := r["Files"].([]any)
		if len(fs) != 2 || fs[0].(map[string]any)["ID"] != float64(id1) || fs[1].(map[string]any)["Name"] != "foto.png" {
			t.Fatal(fs)
		}
		if loc := fs[0].(map[string]any)["Location"].(string); loc != "/v1/files/"+f1["uuid"].(string)+"/download" {
			t.Fatal(loc)
		}
		first := r["ID"].(float64)
		// a retry attaches nothing twice; the Media tab shows both files
		status, m = c.onlyoffice("/api/2.0/crm/contact/77/files", c.token, body)
		if status != 200 || m["response"].(map[string]any)["ID"].(float64) <= first {
			t.Fatalf("retry: %d %v", status, m)
		}
		if ids, atts := c.mediaTab("/v1/entities/contact/77/files", "order[created_at]=asc"); !slices.Equal(ids, []string{f1["uuid"].(string), f2["uuid"].(string)}) || len(atts[ids[0]]) != 1 {
			t.Fatalf("media tab: %v %v", ids, atts)
		}
		// Bearer works too; an opportunity or case has no Contact
		status, m = c.onlyoffice("/api/2.0/crm/case/5/files", "Bearer "+c.token, `{"fileids":[`+itoa(id1)+`], "entityType": "case", "entityid": 5}`)
		if status != 200 || m["response"].(map[string]any)["Contact"] != nil {
			t.Fatalf("case: %d %v", status, m)
		}

		// errors: the status code, and ONLYOFFICE's envelope with status 1
		c.expect(201, "PUT", "/v1/entities/opportunity/9", map[string]any{"title": "Expansão"})
		c.expect(200, "DELETE", "/v1/files", batchBody(f2["uuid"].(string)))
		for _, tc := range []struct {
			path, authz, body string
			status            int
		}{
			{"/api/2.0/crm/contact/77/files", "", body, 401},
			{"/api/2.0/crm/contact/77/files", "anx_wrong", body, 403},
			{"/api/2.0/crm/lead/77/files", c.token, body, 400},
			{"/api/2.0/crm/contact/abc/files", c.token, body, 400},
			{"/api/2.0/crm/contact/78/files", c.token, body, 404},
			{"/api/2.0/crm/opportunity/77/files", c.token, body, 404},
			{"/api/2.0/crm/contact/77/files", c.token, `{"fileids":[999999]}`, 404},
			{"/api/2.0/crm/opportunity/9/files", c.token, `{"fileids":[` + itoa(id1) + `,` + itoa(id2) + `]}`, 409},
			{"/api/2.0/crm/contact/77/files", c.token, `{"fileids":[]}`, 400},
			{"/api/2.0/crm/contact/77/files", c.token, `{"fileids":["x"]}`, 400},
			{"/api/2.0/crm/contact/77/files", c.token, `{"fileids":[1,1]}`, 400},
			{"/api/2.0/crm/contact/77/files", c.token, `{"fileids":[1],"entityType":"case"}`, 400},
			{"/api/2.0/crm/contact/77/files", c.token, `{"fileids":[1],"entityid":76}`, 400},
			{"/api/2.0/crm/contact/77/files", c.token, `{"fileids":[1`, 400},
		} {
			status, m := c.onlyoffice(tc.path, tc.authz, tc.body)
			if status != tc.status {
				t.Fatalf("%s %q %s: %d %v, want %d", tc.path, tc.authz, tc.body, status, m, tc.status)
			}
			if tc.authz == "" || tc.authz == "anx_wrong" {
				continue // API Gateway answers a missing identity source and the authorizer's denial itself
			}
			if m["status"] != 1.0 || m["statusCode"] != float64(tc.status) || m["error"].(map[string]any)["message"] == "" {
				t.Fatalf("error envelope: %v", m)
			}
		}
		// all or nothing: the request with a trashed file attached nothing
		c.expect(200, "POST", "/v1/files/restore", batchBody(f2["uuid"].(string)))
		if ids, _ := c.mediaTab("/v1/entities/opportunity/9/files", ""); len(ids) != 0 {
			t.Fatalf("partial attach: %v", ids)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
