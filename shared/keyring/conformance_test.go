package keyring_test

import (
	"testing"

	"github.com/anexo/anexo/shared/keyring"
	"github.com/anexo/anexo/shared/keyring/keytest"
)

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	keytest.Run(t, func(t *testing.T) keyring.Store { return &keyring.Memory{} })
}
