package serve

import "strconv"

// stage is where a Process is in its life, named rather than inferred from
// flags (see Process.mu).
type stage int

const (
	stageStarting   stage = iota // New was called, Ready not yet
	stageServing                 // Ready was called; a reload may start
	stageReloading               // a reload runs
	stageHandedOver              // a new process serves; this one drains
	stageStopping                // Stop was called: the program shuts down
)

func (s stage) String() string {
	switch s {
	case stageStarting:
		return "starting"
	case stageServing:
		return "serving"
	case stageReloading:
		return "reloading"
	case stageHandedOver:
		return "handed over"
	case stageStopping:
		return "stopping"
	}
	return "stage(" + strconv.Itoa(int(s)) + ")"
}
