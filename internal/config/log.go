package config

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// ParseLevel parses "debug", "info", "warn" or "error".
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not debug, info, warn or error", s)
}

// Logger returns the logger [log] describes, writing to stderr unless
// log.file is set; the closer closes that file (or does nothing).
func (c *Config) Logger(stderr io.Writer) (*slog.Logger, io.Closer, error) {
	level, err := ParseLevel(c.Log.Level)
	if err != nil {
		return nil, nil, fmt.Errorf("log.level: %w", err)
	}
	var out io.Writer = stderr
	var closer io.Closer = io.NopCloser(nil)
	if c.Log.File != "" {
		f, err := os.OpenFile(c.Path(c.Log.File), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("log.file: %w", err)
		}
		out, closer = f, f
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(out, opts)), closer, nil
	}
	return slog.New(slog.NewTextHandler(out, opts)), closer, nil
}
