// Package links holds the API's HAL links to its resources: the API's
// answers and the events' payloads carry the same ones, so a webhook
// receiver can act on a file or an entity without composing a path.
// Links are relative to the API's base URL, as in every answer.
package links

// Link is a HAL-style link.
type Link struct {
	Href string `json:"href"`
}

// Set is a resource's links by relation.
type Set map[string]Link

// File is a file's links: itself and its main version's download.
func File(uuid string) Set {
	self := "/v1/files/" + uuid
	return Set{"self": {Href: self}, "download": {Href: self + "/download"}}
}

// Version is a version's links: itself, its download, and making it the
// file's main version.
func Version(fileUUID, versionUUID string) Set {
	self := "/v1/files/" + fileUUID + "/versions/" + versionUUID
	return Set{"self": {Href: self}, "download": {Href: "/v1/files/" + fileUUID + "/download?version_uuid=" + versionUUID},
		"promote": {Href: self + "/promote"}}
}

// Entity is a directory entry's links: itself and the files attached to
// it.
func Entity(typ, uuid string) Set {
	self := "/v1/entities/" + typ + "/" + uuid
	return Set{"self": {Href: self}, "files": {Href: self + "/files"}}
}

// FileRequest is a file request's links.
func FileRequest(id string) Set {
	return Set{"self": {Href: "/v1/file-requests/" + id}}
}
