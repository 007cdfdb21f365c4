package files

import (
	"encoding/json"
	"strconv"
)

// Preview is one image rendered from a version's bytes: a JPEG at most
// Size pixels on its long edge (never larger than the source), its
// metadata stripped. Previews are kept apart from the files' bytes and do
// not count in the account's usage.
type Preview struct {
	Size   int    `json:"size"` // the long edge asked for (PreviewSizes)
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Type   string `json:"type"` // its media type: image/jpeg
	Key    string `json:"-"`    // where its bytes are, in the previews' bucket
	// URL is a short-lived signed link to it (views sign it; events and
	// stored records have none).
	URL string `json:"url,omitempty"`
}

// PreviewSizes are the long edges previews are rendered at, in pixels.
var PreviewSizes = []int{64, 256, 1024}

// PreviewKey is where a version's preview of one size lives.
func PreviewKey(accountID, fileUUID, versionUUID string, size int) string {
	return ObjectKey(accountID, fileUUID, versionUUID) + "/" + strconv.Itoa(size) + ".jpg"
}

// Previews are a version's previews, one per size.
type Previews []Preview

// MarshalJSON writes none as [] (never null).
func (p Previews) MarshalJSON() ([]byte, error) {
	if p == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]Preview(p))
}
