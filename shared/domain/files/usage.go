package files

// Usage is an account's storage counters and quota.
type Usage struct {
	UsedBytes    int64
	TrashedBytes int64
	QuotaBytes   int64 // 0: unlimited
	FileCount    int64
	VersionCount int64
}
