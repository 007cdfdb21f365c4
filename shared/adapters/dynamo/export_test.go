package dynamo

import (
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/anexo/anexo/shared/domain/files"
)

// FileItem is the table item of a file (benchmarks seed big accounts with
// BatchWriteItem instead of thousands of uploads).
func FileItem(f files.File) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(newFileItem(f))
}

// DueEntry is the gsi2 key of a sweeper queue's entry.
var DueEntry = dueEntry
