package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/anexo/anexo/shared/auth"
	"github.com/anexo/anexo/shared/testenv"
)

func TestAccountAndTokenCommands(t *testing.T) {
	be := testenv.Embedded(t)
	c := testenv.Config(be)
	d := testenv.ConnectDynamo(t, c)
	ctx := context.Background()
	common := []string{"--table", c.Table, "--dynamodb-endpoint", be.Dynamo}
	var out, errb bytes.Buffer
	if code := run(ctx, append([]string{"account", "create", "--name", "Acme", "--quota", "1000"}, common...), &out, &errb); code != 0 {
		t.Fatalf("account create: %d %s", code, errb.String())
	}
	acct := strings.TrimSpace(out.String())
	out.Reset()
	args := append([]string{"token", "create", "--account", acct, "--name", "crm", "--scopes", "files:read,files:delete", "--allowed-domain", "*.acme.com"}, common...)
	if code := run(ctx, args, &out, &errb); code != 0 {
		t.Fatalf("token create: %d %s", code, errb.String())
	}
	secret := strings.TrimSpace(out.String())
	p, err := d.Auth.Authenticate(ctx, "Bearer "+secret)
	if err != nil || p.AccountID != acct || p.Name != "crm" || p.AllowedDomain != "*.acme.com" ||
		p.Require(auth.ScopeDelete) != nil || p.Require(auth.ScopeWrite) == nil {
		t.Fatalf("the minted token authenticates as %+v (%v)", p, err)
	}
	for _, bad := range [][]string{
		{"token", "create", "--account", acct, "--name", "x", "--scopes", "files:admin"},
		{"token", "create", "--account", "3c90c3cc-0d44-4b50-8888-8dd25736052a", "--name", "x"},
		{"account", "create", "--name", ""},
		{"account", "create", "--name", "x", "--quota", "-1"},
	} {
		errb.Reset()
		if code := run(ctx, append(bad, common...), &out, &errb); code != 1 || errb.Len() == 0 {
			t.Fatalf("%v: exit %d, stderr %q", bad, code, errb.String())
		}
	}
	if code := run(ctx, []string{"frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("unknown command: exit %d", code)
	}
	if code := run(ctx, nil, &out, &errb); code != 2 {
		t.Fatalf("no command: exit %d", code)
	}
}

func TestMain(m *testing.M) { testenv.Main(m) }

func TestParseAnywhere(t *testing.T) {
	for _, tc := range []struct {
		args []string
		out  string
		pos  string
	}{
		{[]string{"-o", "x", "u1"}, "x", "u1"},
		{[]string{"u1", "-o", "x"}, "x", "u1"},
		{[]string{"u1", "--quiet", "u2", "-o=x"}, "x", "u1 u2"},
		{[]string{"-o", "x", "--", "-u1", "-o"}, "x", "-u1 -o"},
		{[]string{"u1", "--", "-o", "y"}, "", "u1 -o y"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		out := fs.String("o", "", "")
		fs.Bool("quiet", false, "")
		if err := parseAnywhere(fs, tc.args); err != nil || *out != tc.out || strings.Join(fs.Args(), " ") != tc.pos {
			t.Errorf("%q: -o %q args %q (%v), want %q %q", tc.args, *out, fs.Args(), err, tc.out, tc.pos)
		}
	}
}
