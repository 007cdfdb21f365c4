// Command anexo-load drives a running Anexo (make run, or a deployed
// stage) with a mix of concurrent operations and reports latency
// percentiles per operation, failed requests by status and whether the
// account's usage counters match its files at the end (shared/client/load).
// It exits 1 when anything failed or the counters disagree.
//
//	anexo-load -endpoint http://127.0.0.1:8080 -token "$ANEXO_TOKEN" -ops 5000 -c 16
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/anexo/anexo/shared/client"
	"github.com/anexo/anexo/shared/client/load"
)

func main() {
	var cfg load.Config
	endpoint := flag.String("endpoint", os.Getenv("ANEXO_URL"), "API endpoint (ANEXO_URL)")
	token := flag.String("token", os.Getenv("ANEXO_TOKEN"), "API token with read, write and delete scopes (ANEXO_TOKEN)")
	flag.IntVar(&cfg.Ops, "ops", 1000, "operations in all")
	flag.IntVar(&cfg.Concurrency, "c", 8, "concurrent workers")
	flag.IntVar(&cfg.MaxFileSize, "size", 64<<10, "largest file in bytes (sizes are random up to it)")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "seed of the operation mix and file sizes")
	flag.Parse()
	if *endpoint == "" || *token == "" {
		fmt.Fprintln(os.Stderr, "anexo-load: -endpoint and -token (or ANEXO_URL and ANEXO_TOKEN) are required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg.Client = &client.Client{Endpoint: *endpoint, Token: *token, UserAgent: "anexo-load"}
	rep, err := load.Run(ctx, cfg)
	rep.Write(os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "anexo-load:", err)
		os.Exit(1)
	}
	if !rep.OK() {
		os.Exit(1)
	}
}
