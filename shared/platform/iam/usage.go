package iam

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// UsageEnv names the directory where processes that enforce policies leave
// the grants their code used (make test sets it; the coverage check reads
// every file in it).
const UsageEnv = "ANEXO_IAM_USAGE"

// Usage is the set of grants each function's code used in this process.
type Usage struct {
	mu sync.Mutex
	m  map[string]map[Access]bool
}

// Used is this process's usage, filled by every Enforcer.
var Used = &Usage{}

func (u *Usage) add(fn string, a Access) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]map[Access]bool{}
	}
	if u.m[fn] == nil {
		u.m[fn] = map[Access]bool{}
	}
	u.m[fn][a] = true
}

// Merge adds another usage (read from a file) to this one.
func (u *Usage) Merge(o map[string][]Access) {
	for fn, as := range o {
		for _, a := range as {
			u.add(fn, a)
		}
	}
}

// Snapshot lists each function's used grants, sorted.
func (u *Usage) Snapshot() map[string][]Access {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := map[string][]Access{}
	for fn, set := range u.m {
		for a := range set {
			out[fn] = append(out[fn], a)
		}
		sort.Slice(out[fn], func(i, j int) bool { return out[fn][i].String() < out[fn][j].String() })
	}
	return out
}

// Unused lists, per function, the grants of policies that the usage never
// exercised, but for the occasional ones: each is a permission the
// function's code does not need (or a path no test covers).
func (u *Usage) Unused(policies map[string]Policy, occasional map[string]map[Access]string) map[string][]Access {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := map[string][]Access{}
	for fn, p := range policies {
		for _, a := range p.Accesses() {
			if _, ok := occasional[fn][a]; !ok && !u.m[fn][a] {
				out[fn] = append(out[fn], a)
			}
		}
	}
	return out
}

// WriteUsage leaves this process's usage in $ANEXO_IAM_USAGE (nothing when
// it is unset or nothing was used).
func WriteUsage() error {
	dir := os.Getenv(UsageEnv)
	snap := Used.Snapshot()
	if dir == "" || len(snap) == 0 {
		return nil
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, fmt.Sprintf("usage-%d-*.json", os.Getpid()))
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadUsage merges every usage file in dir.
func ReadUsage(dir string) (*Usage, int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "usage-*.json"))
	if err != nil {
		return nil, 0, err
	}
	u := &Usage{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, 0, err
		}
		var m map[string][]Access
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", f, err)
		}
		u.Merge(m)
	}
	return u, len(files), nil
}
