package testenv

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// Output collects a child process's output while a test reads it.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// WaitFor polls the output for two seconds until it contains want.
func (o *Output) WaitFor(want string) bool {
	for range 100 {
		if strings.Contains(o.String(), want) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
