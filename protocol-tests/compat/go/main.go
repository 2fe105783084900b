// Command compat-go drives the compatibility scenarios with franz-go (kgo + kadm).
//
//	compat-go --bootstrap HOST:PORT --scenario ID --topic NAME   one JSON result line
//	compat-go --versions                                          library versions
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

// scenarioFunc runs one scenario; a non-nil error fails it.
type scenarioFunc func(ctx context.Context, bootstrap, topic string) error

// errUnsupported marks a scenario franz-go cannot express.
var errUnsupported = errors.New("unsupported")

var scenarios = map[string]scenarioFunc{
	"metadata-autocreate":     metadataAutocreate,
	"admin-topics":            adminTopics,
	"produce-consume":         func(ctx context.Context, b, t string) error { return roundTrip(ctx, b, t, 1) },
	"codec-gzip":              codec("gzip"),
	"codec-snappy":            codec("snappy"),
	"codec-lz4":               codec("lz4"),
	"codec-zstd":              codec("zstd"),
	"max-message-size":        maxMessage,
	"idempotent-producer":     idempotent,
	"consume-earliest-latest": earliestLatest,
	"offsets-for-times":       offsetsForTimes,
	"empty-partition-eof":     emptyEOF,
	"describe-configs":        describeConfigs,
	"consumer-group-resume":   consumerGroup,
	// Issue 3's additions (groups.go).
	"consumer-group-rebalance":     groupRebalance,
	"static-membership":            staticMembership,
	"cooperative-rebalance":        cooperativeRebalance,
	"consumer-protocol-group":      consumerProtocolGroup,
	"consumer-group-lag":           groupLag,
	"consumer-group-reset-offsets": groupResetOffsets,
	"alter-configs":                alterConfigs,
	"delete-records":               deleteRecords,
	"perf-tools":                   unsupported("needs Kafka's command-line tools, not a client library"),
	"dump-log":                     unsupported("needs Kafka's command-line tools, not a client library"),
}

// unsupported is a scenario franz-go cannot express, and why.
func unsupported(why string) scenarioFunc {
	return func(context.Context, string, string) error { return fmt.Errorf("%w: %s", errUnsupported, why) }
}

func main() {
	bootstrap := flag.String("bootstrap", "", "broker address")
	scenario := flag.String("scenario", "", "scenario id")
	topic := flag.String("topic", "", "topic name for this run")
	versions := flag.Bool("versions", false, "print library versions")
	flag.Parse()
	out := json.NewEncoder(os.Stdout)
	if *versions {
		v := map[string]string{"go": strings.TrimPrefix(runtimeVersion(), "go")}
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, d := range info.Deps {
				switch d.Path {
				case "github.com/twmb/franz-go":
					v["franz-go"] = d.Version
				case "github.com/twmb/franz-go/pkg/kadm":
					v["kadm"] = d.Version
				}
			}
		}
		_ = out.Encode(map[string]any{"client": "franz-go", "versions": v})
		return
	}
	fn, ok := scenarios[*scenario]
	if !ok {
		_ = out.Encode(map[string]any{"scenario": *scenario, "result": "unsupported",
			"detail": "franz-go has no driver for this scenario"})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	start := time.Now()
	err := fn(ctx, *bootstrap, *topic)
	result, detail := "pass", ""
	switch {
	case errors.Is(err, errUnsupported):
		result, detail = "unsupported", err.Error()
	case err != nil:
		result, detail = "fail", err.Error()
	}
	_ = out.Encode(map[string]any{"scenario": *scenario, "result": result, "detail": detail,
		"seconds": float64(time.Since(start).Milliseconds()) / 1000})
}

func runtimeVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		return info.GoVersion
	}
	return "unknown"
}

// check returns an error describing what failed unless cond holds.
func check(cond bool, format string, args ...any) error {
	if cond {
		return nil
	}
	return fmt.Errorf(format, args...)
}
