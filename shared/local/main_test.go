package local_test

import (
	"testing"

	"github.com/anexo/anexo/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
