//go:build unix

package opa

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoadConfigSettingsFileThatIsNotAFile: a named pipe named like a
// settings file fails LoadConfig, naming it and what it is, without
// waiting for a writer (viper's read of it did, for ever); a settings file
// over 16 MiB is refused with its size, unread.
func TestLoadConfigSettingsFileThatIsNotAFile(t *testing.T) {
	dir := writeSettings(t, map[string]string{"a.yaml": "development: {}\n"})
	fifo := filepath.Join(dir, "b.yaml")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	done := make(chan error, 1)
	go func() {
		_, err := loadConfig(nil, []string{envSettingsDir + "=" + dir})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrConfig)
		assert.Contains(t, err.Error(), fifo+" is a named pipe (FIFO), not a regular file: a settings file must be a regular file")
	case <-time.After(time.Minute):
		t.Fatal("LoadConfig waited on a named pipe")
	}

	require.NoError(t, os.Remove(fifo))
	require.NoError(t, os.WriteFile(fifo, []byte("development: {}\n"), 0o644))
	require.NoError(t, os.Truncate(fifo, 16<<20+1))
	_, err := loadConfig(nil, []string{envSettingsDir + "=" + dir})
	require.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "it is 16777217 bytes, more than the 16777216 a settings file may have")
}
