package main

import (
	"testing"

	"github.com/anexo/anexo/shared/testing/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
