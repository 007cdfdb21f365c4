package app

import (
	"log/slog"
	"testing"
)

// TestLogLevel: the level Lambda's logging configuration sets
// (AWS_LAMBDA_LOG_LEVEL) is the logger's.
func TestLogLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"": slog.LevelInfo, "TRACE": slog.LevelDebug, "DEBUG": slog.LevelDebug,
		"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "WARN": slog.LevelWarn, "ERROR": slog.LevelError, "FATAL": slog.LevelError, "loud": slog.LevelInfo} {
		if got := LogLevel(in); got != want {
			t.Errorf("LogLevel(%q) = %v, want %v", in, got, want)
		}
	}
}
