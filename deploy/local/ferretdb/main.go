// Command crm-ferretdb runs FerretDB v1 embedded, as the MongoDB-wire server for local development.
//
// The upstream binary built with `go install` panics at start (its generated version file is not in
// the module zip, FerretDB#2982), so we embed the library instead. SQLite is the default backend:
// it needs nothing else running. PostgreSQL (plain, without DocumentDB) works too with -handler.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// envOr lets every flag also be set from the environment, which suits process managers.
func envOr(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return fallback
}

func parseLevel(s string) (slog.Level, error) {
	var level slog.Level
	err := level.UnmarshalText([]byte(s))
	return level, err
}

func run() error {
	listen := flag.String("listen-addr", envOr("FERRETDB_LISTEN_ADDR", "127.0.0.1:27017"), "TCP address to listen on")
	handler := flag.String("handler", envOr("FERRETDB_HANDLER", "sqlite"), "backend: sqlite or postgresql")
	dataDir := flag.String("data-dir", envOr("FERRETDB_DATA_DIR", "data"), "directory of the SQLite databases (sqlite handler)")
	pgURL := flag.String("postgresql-url", envOr("FERRETDB_POSTGRESQL_URL", ""), "PostgreSQL URL (postgresql handler)")
	logLevel := flag.String("log-level", envOr("FERRETDB_LOG_LEVEL", "warn"), "debug, info, warn or error")
	flag.Parse()

	level, err := parseLevel(*logLevel)
	if err != nil {
		return fmt.Errorf("bad -log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	config := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Logger:   logger,
		Handler:  *handler,
	}

	switch *handler {
	case "sqlite":
		// FerretDB wants an existing directory given as a URI ending with a slash.
		abs, err := filepath.Abs(*dataDir)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return err
		}
		config.SQLiteURL = "file:" + strings.TrimSuffix(abs, "/") + "/"
	case "postgresql":
		if *pgURL == "" {
			return fmt.Errorf("-postgresql-url is required with -handler postgresql")
		}
		config.PostgreSQLURL = *pgURL
	default:
		return fmt.Errorf("unknown -handler %q", *handler)
	}

	f, err := ferretdb.New(config)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Said whatever the log level, so the log file shows each start.
	fmt.Fprintf(os.Stderr, "crm-ferretdb: listening on %s, handler %s\n", *listen, *handler)
	return f.Run(ctx)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crm-ferretdb:", err)
		os.Exit(1)
	}
}
