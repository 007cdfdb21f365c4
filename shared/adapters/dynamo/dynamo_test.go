package dynamo_test

import (
	"testing"

	"github.com/anexo/anexo/shared/conformance/keytest"
	"github.com/anexo/anexo/shared/conformance/storetest"
	"github.com/anexo/anexo/shared/domain/keyring"
	"github.com/anexo/anexo/shared/testing/testenv"
)

func TestConformance(t *testing.T) {
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		be.S3 = "" // metadata only
		newStore := func(t *testing.T) storetest.Store {
			return testenv.ConnectDynamo(t, testenv.Config(be)).Store()
		}
		storetest.Run(t, newStore)
		if be.Name != "moto" {
			storetest.RunRaces(t, newStore)
		}
	})
}

func TestKeyStoreConformance(t *testing.T) {
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		be.S3 = "" // metadata only
		keytest.Run(t, func(t *testing.T) keyring.Store {
			return testenv.ConnectDynamo(t, testenv.Config(be)).Keys()
		})
	})
}
