// Package register compiles the river driver into a host: a blank import
//
//	import _ "github.com/opa-stack/opa-go/river/register"
//
// calls opa.Register("river", river.Plugin) in its init, so every Manager of
// the host finds a plugin named "river" (in the default plugin path) whose
// driver OPTIONAL_COMPONENTS can name with DRIVER: river.
package register

import (
	"github.com/opa-stack/opa-go"
	"github.com/opa-stack/opa-go/river"
)

func init() { opa.Register(river.DriverName, river.Plugin) }
