package driver

import "context"

// UnsupportedScenario is a scenario the library cannot express, reported with why.
func UnsupportedScenario(why string) Scenario {
	return func(context.Context, string, string) error { return Unsupported(why) }
}
