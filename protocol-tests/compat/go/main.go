// Command compat-franz runs one compatibility scenario with franz-go (kgo + kadm) and prints
// one JSON result line:
//
//	compat-franz --bootstrap H:P --scenario ID --topic T
//	compat-franz --scenario versions
//
// The scenarios mirror ../python/driver.py; see ../scenarios.json for the catalogue.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	messageMaxBytes = 100_000 // scenarios.json broker_settings
	numPartitions   = 2
	wait            = 20 * time.Second
)

// rec is what a scenario compares: key, value, headers and timestamp, byte for byte.
type rec struct {
	Key, Value []byte
	Headers    []kgo.RecordHeader
	TsMillis   int64
}

type env struct {
	bootstrap string
	topic     string
	ctx       context.Context
}

func main() {
	bootstrap := flag.String("bootstrap", "", "host:port")
	scenario := flag.String("scenario", "", "scenario id")
	topic := flag.String("topic", "", "topic name for this run")
	flag.Parse()
	if *scenario == "versions" {
		printVersions()
		return
	}
	res := map[string]string{"client": "franz-go", "scenario": *scenario}
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	e := &env{bootstrap: *bootstrap, topic: *topic, ctx: ctx}
	fn, ok := scenarios[*scenario]
	if !ok {
		res["status"], res["detail"] = "n/a", "no such scenario in the franz-go driver"
	} else if err := fn(e); err != nil {
		res["status"], res["detail"] = "fail", trunc(err.Error(), 300)
	} else {
		res["status"] = "pass"
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func printVersions() {
	v := map[string]string{"go": "unknown"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v["go"] = bi.GoVersion
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/twmb/franz-go":
				v["franz-go (kgo)"] = d.Version
			case "github.com/twmb/franz-go/pkg/kadm":
				v["franz-go kadm"] = d.Version
			}
		}
	}
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
}

var scenarios = map[string]func(*env) error{
	"metadata-autocreate":     metadataAutocreate,
	"admin-topics":            adminTopics,
	"produce-consume-headers": func(e *env) error { return roundtrip(e, 200, kgo.NoCompression()) },
	"codec-gzip":              func(e *env) error { return roundtrip(e, 300, kgo.GzipCompression()) },
	"codec-snappy":            func(e *env) error { return roundtrip(e, 300, kgo.SnappyCompression()) },
	"codec-lz4":               func(e *env) error { return roundtrip(e, 300, kgo.Lz4Compression()) },
	"codec-zstd":              func(e *env) error { return roundtrip(e, 300, kgo.ZstdCompression()) },
	"max-message":             maxMessage,
	// franz-go is idempotent by default: this is its default producer.
	"idempotent-producer": func(e *env) error { return roundtrip(e, 300, kgo.NoCompression()) },
	"consume-offsets":     consumeOffsets,
	"empty-topic-eof":     emptyTopicEOF,
	"consumer-group":      consumerGroup,
	"describe-configs":    describeConfigs,
}

func records(n int, tag string, valueSize int, ts0 int64) []rec {
	out := make([]rec, n)
	for i := range out {
		v := make([]byte, valueSize)
		for j := range v {
			v[j] = byte((i*7 + j) % 256)
		}
		out[i] = rec{
			Key:   []byte(fmt.Sprintf("%s-key-%d", tag, i)),
			Value: v,
			Headers: []kgo.RecordHeader{
				{Key: "h-str", Value: []byte(fmt.Sprintf("v%d", i))},
				{Key: "h-bin", Value: []byte{0, 255, byte(i % 256)}},
			},
			TsMillis: ts0 + int64(i)*10,
		}
	}
	return out
}

func nowMinus(d time.Duration) int64 { return time.Now().Add(-d).UnixMilli() }

func client(e *env, opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(e.bootstrap)}, opts...)...)
}

func admin(e *env) (*kadm.Client, *kgo.Client, error) {
	cl, err := client(e)
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl, nil
}

func createTopic(e *env, parts int32) error {
	adm, cl, err := admin(e)
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := adm.CreateTopic(e.ctx, parts, 1, nil, e.topic); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if n, _ := partitions(e, adm); n == int(parts) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("topic %s never showed %d partitions", e.topic, parts)
}

// partitions is -1 when the topic is not listed.
func partitions(e *env, adm *kadm.Client) (int, error) {
	td, err := adm.ListTopics(e.ctx, e.topic)
	if err != nil {
		return -1, err
	}
	d, ok := td[e.topic]
	if !ok || d.Err != nil {
		return -1, nil
	}
	return len(d.Partitions), nil
}

func produce(e *env, recs []rec, opts ...kgo.Opt) error {
	cl, err := client(e, append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5 * time.Millisecond)}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	var krs []*kgo.Record
	for _, r := range recs {
		krs = append(krs, &kgo.Record{Topic: e.topic, Partition: 0, Key: r.Key, Value: r.Value,
			Headers: r.Headers, Timestamp: time.UnixMilli(r.TsMillis)})
	}
	return cl.ProduceSync(e.ctx, krs...).FirstErr()
}

// consume reads n records of partition 0 from offset `from` (assignment only, no group);
// `then` runs once the start position is resolved.
func consume(e *env, from kgo.Offset, n int, then func() error) ([]rec, error) {
	cl, err := client(e, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{e.topic: {0: from}}),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	if then != nil {
		// A first empty fetch round means the (latest) position is fixed.
		pctx, cancel := context.WithTimeout(e.ctx, 2*time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if fs.NumRecords() != 0 {
			return nil, errors.New("records before the later produce")
		}
		if err := then(); err != nil {
			return nil, err
		}
	}
	return poll(e, cl, n)
}

func poll(e *env, cl *kgo.Client, n int) ([]rec, error) {
	var out []rec
	ctx, cancel := context.WithTimeout(e.ctx, wait)
	defer cancel()
	for len(out) < n {
		fs := cl.PollRecords(ctx, n-len(out))
		if ctx.Err() != nil {
			return out, fmt.Errorf("timed out with %d of %d records", len(out), n)
		}
		if err := fs.Err(); err != nil {
			return out, err
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, rec{r.Key, r.Value, r.Headers, r.Timestamp.UnixMilli()})
		})
	}
	return out, nil
}

func same(got, want []rec, what string) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s: got %d records, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		ok := string(g.Key) == string(w.Key) && string(g.Value) == string(w.Value) &&
			g.TsMillis == w.TsMillis && len(g.Headers) == len(w.Headers)
		for j := 0; ok && j < len(g.Headers); j++ {
			ok = g.Headers[j].Key == w.Headers[j].Key &&
				string(g.Headers[j].Value) == string(w.Headers[j].Value)
		}
		if !ok {
			return fmt.Errorf("%s: record %d differs", what, i)
		}
	}
	return nil
}

func roundtrip(e *env, n int, codec kgo.CompressionCodec) error {
	if err := createTopic(e, 1); err != nil {
		return err
	}
	want := records(n, e.topic, 40, nowMinus(time.Minute))
	if err := produce(e, want, kgo.ProducerBatchCompression(codec)); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	got, err := consume(e, kgo.NewOffset().AtStart(), n, nil)
	if err != nil {
		return err
	}
	return same(got, want, "consumed back")
}
