// Package storetest is the conformance suite of the metadata store: one
// group of tests per port the domain packages define (auth.Store,
// upload.Store, catalog.Store, entities.Store, batches.Store,
// outbox.Outbox, webhooks.Store, requests.Store). Run it
// against every implementation: memory, the embedded emulators and
// moto_server.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/anexo/anexo/shared/domain/auth"
	"github.com/anexo/anexo/shared/domain/batches"
	"github.com/anexo/anexo/shared/domain/catalog"
	"github.com/anexo/anexo/shared/domain/entities"
	"github.com/anexo/anexo/shared/domain/files"
	"github.com/anexo/anexo/shared/domain/outbox"
	"github.com/anexo/anexo/shared/domain/previews"
	"github.com/anexo/anexo/shared/domain/requests"
	"github.com/anexo/anexo/shared/domain/scanning"
	"github.com/anexo/anexo/shared/domain/upload"
	"github.com/anexo/anexo/shared/domain/webhooks"
)

// Store is what the suite exercises: every port.
type Store interface {
	auth.Store
	upload.Store
	catalog.Store
	entities.Store
	batches.Store
	outbox.Outbox
	webhooks.Store
	scanning.Store
	previews.Store
	requests.Store
	Usage(ctx context.Context, accountID string) (files.Usage, error)
}

// Run runs the suite; newStore returns a store on an empty table.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	run := func(name string, test func(*testing.T, Store)) {
		t.Run(name, func(t *testing.T) { test(t, newStore(t)) })
	}
	// auth.Store
	run("AccountsAndTokens", testAccounts)
	run("TokenLifecycle", testTokenLifecycle)
	// upload.Store
	run("FileIDs", testFileIDs)
	run("Sessions", testSessions)
	run("CommitNewFile", testCommitNew)
	run("CommitVersion", testCommitVersion)
	run("Quota", testQuota)
	// catalog.Store
	run("Listing", testListing)
	run("Versions", testVersions)
	run("Trash", testTrash)
	run("Scans", testScans)
	run("ScanQueue", testScanQueue)
	run("Quarantine", testQuarantine)
	run("Previews", testPreviews)
	run("DueAfterPurge", testDueAfterPurge)
	run("Settings", testSettings)
	// entities.Store
	run("Entities", testEntities)
	run("Attachments", testAttachments)
	// batches.Store
	run("Batches", testBatches)
	// outbox.Outbox: every change above writes its events with it
	run("Outbox", testOutbox)
	run("Records", testRecords)
	// webhooks.Store
	run("Webhooks", testWebhooks)
	run("Deliveries", testDeliveries)
	run("AttemptSlots", testAttemptSlots)
	// requests.Store
	run("Requests", testRequests)
	run("CommitReceipt", testCommitReceipt)
}

// RunRaces runs the groups that race concurrent writers for one limit:
// only for stores whose condition and write are one atomic step (memory
// and DynamoDB; moto_server checks and writes in separate steps, so
// concurrent writers can all pass one check).
func RunRaces(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("LeaseRace", func(t *testing.T) { testLeaseRace(t, newStore(t)) })
}

var now = time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)

func account(t *testing.T, s Store, quota int64) string {
	t.Helper()
	a := auth.Account{ID: uuid.NewString(), Name: "acme", QuotaBytes: quota, CreatedAt: now}
	if err := s.PutAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return a.ID
}
