// Command dispatcher is the Lambda the table's stream invokes with the
// outbox records written: it publishes their events to the bus and queues
// their webhook deliveries.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/anexo/anexo/shared/platform/app"
)

func main() { lambda.Start(app.Dispatcher(app.Lambda())) }
