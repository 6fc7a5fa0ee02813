package opa

import (
	"errors"
	"strings"
)

// explainOpenError turns the plugin package's messages into plain words
// with a fix, keeping the original text.
func explainOpenError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, `symbol Plugin not found`):
		return errors.New("no exported symbol Plugin: declare `var Plugin = opa.Plugin{...}` in the plugin's package main")
	case strings.Contains(msg, "plugin was built with a different version of package"):
		pkg := msg[strings.LastIndex(msg, " ")+1:]
		return errors.New("the plugin and this host were built differently (package " + pkg +
			" differs): build the plugin with the host's Go version, flags (-race, -trimpath, tags) and module versions [" + msg + "]")
	case strings.Contains(msg, "plugin already loaded"):
		return errors.New("a plugin built from the same main package is already loaded (a copy under another name?): remove one of them [" + msg + "]")
	}
	return err
}
