package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// partitions is the partition count of every scenario topic (the runner sets num.partitions).
const partitions = 3

// records is the record count of a produce/consume scenario.
const records = 300

// expected builds deterministic keyed records with headers (a duplicate key included) and
// explicit timestamps; values are random bytes so any byte-level change shows.
func expected(seed int64, count int, base time.Time) []*kgo.Record {
	rng := rand.New(rand.NewSource(seed))
	out := make([]*kgo.Record, 0, count)
	for i := 0; i < count; i++ {
		value := make([]byte, rng.Intn(300))
		rng.Read(value)
		out = append(out, &kgo.Record{
			Partition: int32(i % partitions),
			Key:       []byte(fmt.Sprintf("key-%06d", i)),
			Value:     value,
			Headers: []kgo.RecordHeader{
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

// pastBase is a base timestamp in the past, so no broker rejects it as from the future.
func pastBase() time.Time {
	return time.UnixMilli(time.Now().Add(-10 * time.Minute).UnixMilli())
}

// newClient makes a client for bootstrap with the given options added.
func newClient(bootstrap string, opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{kgo.SeedBrokers(bootstrap), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(5 * time.Millisecond)}
	if os.Getenv("COMPAT_GO_DEBUG") != "" {
		base = append(base, kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelDebug, nil)))
	}
	return kgo.NewClient(append(base, opts...)...)
}

// produceAll produces recs synchronously, failing on the first error.
func produceAll(ctx context.Context, bootstrap, topic string, recs []*kgo.Record, opts ...kgo.Opt) error {
	cl, err := newClient(bootstrap, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for _, r := range recs {
		r.Topic = topic
	}
	return cl.ProduceSync(ctx, recs...).FirstErr()
}

// fromStart assigns every partition of topic from its start offset (no group).
func fromStart(topic string) kgo.Opt {
	m := map[int32]kgo.Offset{}
	for p := int32(0); p < partitions; p++ {
		m[p] = kgo.NewOffset().AtStart()
	}
	return kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: m})
}

// drain polls cl until count records arrived or timeout passed.
func drain(ctx context.Context, cl *kgo.Client, count int, timeout time.Duration) ([]*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var got []*kgo.Record
	for len(got) < count && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		for _, e := range fs.Errors() {
			if e.Err != context.DeadlineExceeded && e.Err != context.Canceled {
				return got, fmt.Errorf("fetch %s/%d: %w", e.Topic, e.Partition, e.Err)
			}
		}
		got = append(got, fs.Records()...)
	}
	return got, nil
}

// consume reads count records of topic from the start of every partition.
func consume(ctx context.Context, bootstrap, topic string, count int) ([]*kgo.Record, error) {
	cl, err := newClient(bootstrap, fromStart(topic))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return drain(ctx, cl, count, 30*time.Second)
}

// compare checks got holds exactly want, in order within each partition, byte for byte.
func compare(want, got []*kgo.Record) error {
	if len(got) != len(want) {
		return fmt.Errorf("consumed %d records, expected %d", len(got), len(want))
	}
	for p := int32(0); p < partitions; p++ {
		var w, h []*kgo.Record
		for _, r := range want {
			if r.Partition == p {
				w = append(w, r)
			}
		}
		for _, r := range got {
			if r.Partition == p {
				h = append(h, r)
			}
		}
		if len(w) != len(h) {
			return fmt.Errorf("partition %d: %d records, expected %d", p, len(h), len(w))
		}
		for i := range w {
			if err := sameRecord(w[i], h[i], int64(i)); err != nil {
				return fmt.Errorf("partition %d record %d: %w", p, i, err)
			}
		}
	}
	return nil
}

func sameRecord(w, h *kgo.Record, offset int64) error {
	switch {
	case h.Offset != offset:
		return fmt.Errorf("offset %d", h.Offset)
	case !bytes.Equal(h.Key, w.Key):
		return fmt.Errorf("key %q != %q", h.Key, w.Key)
	case !bytes.Equal(h.Value, w.Value):
		return fmt.Errorf("value differs (%d bytes vs %d)", len(h.Value), len(w.Value))
	case !h.Timestamp.Equal(w.Timestamp):
		return fmt.Errorf("timestamp %v != %v", h.Timestamp, w.Timestamp)
	case len(h.Headers) != len(w.Headers):
		return fmt.Errorf("%d headers, expected %d", len(h.Headers), len(w.Headers))
	}
	for i := range w.Headers {
		if h.Headers[i].Key != w.Headers[i].Key || !bytes.Equal(h.Headers[i].Value, w.Headers[i].Value) {
			return fmt.Errorf("header %d: %q=%q, expected %q=%q", i, h.Headers[i].Key,
				h.Headers[i].Value, w.Headers[i].Key, w.Headers[i].Value)
		}
	}
	return nil
}

// roundTrip produces the expected records with opts and consumes them back.
func roundTrip(ctx context.Context, bootstrap, topic string, seed int64, opts ...kgo.Opt) error {
	want := expected(seed, records, pastBase())
	if err := produceAll(ctx, bootstrap, topic, want, opts...); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	got, err := consume(ctx, bootstrap, topic, len(want))
	if err != nil {
		return err
	}
	return compare(want, got)
}
