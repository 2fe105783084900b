// Package driver holds what the sarama and kafka-go scenario drivers share: the command line,
// the one-line JSON result, the expected records and polling with deadlines.
package driver

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

// Partitions is the partition count of every scenario topic (the runner sets num.partitions).
const Partitions = 3

// Records is the record count of a produce/consume scenario.
const Records = 300

// ErrUnsupported marks a scenario the library cannot express; wrap it with the reason.
var ErrUnsupported = errors.New("unsupported")

// Unsupported returns an error that reports the scenario as unsupported, saying why.
func Unsupported(why string) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, why)
}

// Scenario runs one scenario; a non-nil error fails it.
type Scenario func(ctx context.Context, bootstrap, topic string) error

// Main parses the command line and runs the named scenario of table, printing one JSON line.
// deps names the modules whose versions `--versions` reports.
func Main(client string, deps []string, table map[string]Scenario) {
	bootstrap := flag.String("bootstrap", "", "broker address")
	scenario := flag.String("scenario", "", "scenario id")
	topic := flag.String("topic", "", "topic name for this run")
	versions := flag.Bool("versions", false, "print library versions")
	flag.Parse()
	out := json.NewEncoder(os.Stdout)
	if *versions {
		v := map[string]string{}
		if info, ok := debug.ReadBuildInfo(); ok {
			v["go"] = strings.TrimPrefix(info.GoVersion, "go")
			for _, d := range info.Deps {
				for _, want := range deps {
					if d.Path == want {
						v[want[strings.LastIndex(want, "/")+1:]] = d.Version
					}
				}
			}
		}
		_ = out.Encode(map[string]any{"client": client, "versions": v})
		return
	}
	fn, ok := table[*scenario]
	if !ok {
		_ = out.Encode(map[string]any{"scenario": *scenario, "result": "unsupported",
			"detail": client + " has no driver for this scenario"})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Second)
	defer cancel()
	start := time.Now()
	err := fn(ctx, *bootstrap, *topic)
	result, detail := "pass", ""
	switch {
	case errors.Is(err, ErrUnsupported):
		result, detail = "unsupported", err.Error()
	case err != nil:
		result, detail = "fail", err.Error()
	}
	_ = out.Encode(map[string]any{"scenario": *scenario, "result": result, "detail": detail,
		"seconds": float64(time.Since(start).Milliseconds()) / 1000})
}

// Check returns an error describing what failed unless cond holds.
func Check(cond bool, format string, args ...any) error {
	if cond {
		return nil
	}
	return fmt.Errorf(format, args...)
}

// WaitFor retries cond every 200 ms until it holds or timeout passes; the error then says
// what was awaited and the last reason it did not hold.
func WaitFor(ctx context.Context, what string, timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("waited %v for %s: %w", timeout, what, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Header is one record header; duplicate keys are allowed.
type Header struct {
	Key   string
	Value []byte
}

// Record is a library-neutral record: what was produced or what came back.
type Record struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time
}

// Expected builds deterministic keyed records with headers (a duplicate key included) and
// explicit millisecond timestamps; values are random bytes so any byte-level change shows.
func Expected(seed int64, count int, base time.Time) []Record {
	rng := rand.New(rand.NewSource(seed))
	out := make([]Record, 0, count)
	for i := 0; i < count; i++ {
		value := make([]byte, rng.Intn(300))
		rng.Read(value)
		out = append(out, Record{
			Partition: int32(i % Partitions),
			Key:       []byte(fmt.Sprintf("key-%06d", i)),
			Value:     value,
			Headers: []Header{
				{Key: "trace", Value: []byte(fmt.Sprint(i))},
				{Key: "bin", Value: []byte{0, 255, byte(i)}},
				{Key: "dup", Value: []byte("first")},
				{Key: "dup", Value: []byte("second")},
			},
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
		})
	}
	return out
}

// PastBase is a millisecond base timestamp ten minutes back, so no broker rejects it as
// being from the future.
func PastBase() time.Time {
	return time.UnixMilli(time.Now().Add(-10 * time.Minute).UnixMilli())
}
