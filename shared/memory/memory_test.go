package memory_test

import (
	"testing"

	"github.com/anexo/anexo/shared/memory"
	"github.com/anexo/anexo/shared/storetest"
)

// TestStore runs the metadata conformance suite on the memory store, as
// shared/dynamo runs it on the emulators and moto_server.
func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Store { return &memory.Store{} })
}
