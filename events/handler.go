package events

import "context"

// A Handler handles one event. It returns nil when it is done with the
// event; an error asks for the event again (see Consume).
type Handler func(ctx context.Context, ev Event) error
