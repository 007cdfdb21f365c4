package dynamo_test

import (
	"testing"

	"github.com/anexo/anexo/shared/testenv"
	"github.com/anexo/anexo/shared/upload/storetest"
)

func TestConformance(t *testing.T) {
	testenv.Each(t, func(t *testing.T, be testenv.Backend) {
		be.S3 = "" // metadata only
		storetest.Run(t, func(t *testing.T) storetest.Store {
			c := testenv.Config(be)
			d := testenv.ConnectDynamo(t, c)
			return d.Store()
		})
	})
}
