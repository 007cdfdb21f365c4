package keyring_test

import (
	"testing"

	"github.com/anexo/anexo/shared/conformance/keytest"
	"github.com/anexo/anexo/shared/domain/keyring"
)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	keytest.Run(t, func(t *testing.T) keyring.Store { return &keyring.Memory{} })
}
