package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// withAdmin runs fn with a kadm client on bootstrap.
func withAdmin(bootstrap string, fn func(*kgo.Client, *kadm.Client) error) error {
	cl, err := newClient(bootstrap)
	if err != nil {
		return err
	}
	defer cl.Close()
	return fn(cl, kadm.NewClient(cl))
}

// waitFor retries cond every 300 ms for up to 15 s; the last error explains a timeout.
func waitFor(ctx context.Context, cond func() error) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// autoCreate sends Metadata with allow_auto_topic_creation until topic has its partitions.
func autoCreate(ctx context.Context, cl *kgo.Client, topic string) error {
	return waitFor(ctx, func() error {
		req := kmsg.NewPtrMetadataRequest()
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, t)
		req.AllowAutoTopicCreation = true
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if len(resp.Topics) != 1 {
			return fmt.Errorf("%d topics in metadata", len(resp.Topics))
		}
		rt := resp.Topics[0]
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			return fmt.Errorf("topic error: %w", err)
		}
		return check(len(rt.Partitions) == partitions, "%d partitions", len(rt.Partitions))
	})
}

func metadataAutocreate(ctx context.Context, bootstrap, topic string) error {
	return withAdmin(bootstrap, func(cl *kgo.Client, _ *kadm.Client) error {
		return autoCreate(ctx, cl, topic)
	})
}

func partitionCount(ctx context.Context, adm *kadm.Client, topic string, want int) error {
	return waitFor(ctx, func() error {
		td, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return err
		}
		d, ok := td[topic]
		if !ok || d.Err != nil {
			return fmt.Errorf("topic not listed (%v)", d.Err)
		}
		return check(len(d.Partitions) == want, "%d partitions, expected %d", len(d.Partitions), want)
	})
}

func adminTopics(ctx context.Context, bootstrap, topic string) error {
	return withAdmin(bootstrap, func(_ *kgo.Client, adm *kadm.Client) error {
		if r, err := adm.CreateTopic(ctx, 2, 1, nil, topic); err != nil || r.Err != nil {
			return fmt.Errorf("create: %v %v", err, r.Err)
		}
		if err := partitionCount(ctx, adm, topic, 2); err != nil {
			return fmt.Errorf("after create: %w", err)
		}
		rs, err := adm.UpdatePartitions(ctx, 4, topic)
		if err == nil {
			err = rs.Error()
		}
		if err != nil {
			return fmt.Errorf("create partitions: %w", err)
		}
		if err := partitionCount(ctx, adm, topic, 4); err != nil {
			return fmt.Errorf("after create partitions: %w", err)
		}
		if r, err := adm.DeleteTopic(ctx, topic); err != nil || r.Err != nil {
			return fmt.Errorf("delete: %v %v", err, r.Err)
		}
		return waitFor(ctx, func() error {
			td, err := adm.ListTopics(ctx)
			if err != nil {
				return err
			}
			return check(!td.Has(topic), "topic still listed after delete")
		})
	})
}

func codec(name string) scenarioFunc {
	c := map[string]kgo.CompressionCodec{"gzip": kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}[name]
	return func(ctx context.Context, b, t string) error {
		return roundTrip(ctx, b, t, int64(len(name)), kgo.ProducerBatchCompression(c))
	}
}

func maxMessage(ctx context.Context, bootstrap, topic string) error {
	near := &kgo.Record{Topic: topic, Key: []byte("near"), Value: bytes.Repeat([]byte("n"), 1_000_000)}
	over := &kgo.Record{Topic: topic, Key: []byte("over"), Value: bytes.Repeat([]byte("o"), 1_100_000)}
	// No compression: franz-go compresses by default, which would shrink the records.
	cl, err := newClient(bootstrap, kgo.ProducerBatchMaxBytes(2_000_000),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, near).FirstErr(); err != nil {
		return fmt.Errorf("near-max record: %w", err)
	}
	err = cl.ProduceSync(ctx, over).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		return fmt.Errorf("over-max record: %v, expected MESSAGE_TOO_LARGE", err)
	}
	got, err := consume(ctx, bootstrap, topic, 1)
	if err != nil {
		return err
	}
	return check(len(got) == 1 && bytes.Equal(got[0].Value, near.Value), "near-max record not read back")
}

// idempotent uses franz-go's defaults, which are idempotent.
func idempotent(ctx context.Context, bootstrap, topic string) error {
	return roundTrip(ctx, bootstrap, topic, 7)
}

func earliestLatest(ctx context.Context, bootstrap, topic string) error {
	if err := produceAll(ctx, bootstrap, topic, expected(11, 60, pastBase())); err != nil {
		return err
	}
	if got, err := consume(ctx, bootstrap, topic, 60); err != nil || len(got) != 60 {
		return fmt.Errorf("earliest: %d records, %v", len(got), err)
	}
	cl, err := newClient(bootstrap, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	if err != nil {
		return err
	}
	defer cl.Close()
	// Let the consumer resolve the end offsets before anything new is produced.
	if old, err := drain(ctx, cl, 1, 2*time.Second); err != nil || len(old) != 0 {
		return fmt.Errorf("latest: %d old records, %v", len(old), err)
	}
	later := expected(12, 30, pastBase())
	if err := produceAll(ctx, bootstrap, topic, later); err != nil {
		return err
	}
	got, err := drain(ctx, cl, 30, 30*time.Second)
	if err != nil {
		return err
	}
	extra, _ := drain(ctx, cl, 1, time.Second)
	got = append(got, extra...)
	return check(sameValues(later, got), "latest: %d records, expected the 30 new ones", len(got))
}

func sameValues(want, got []*kgo.Record) bool {
	if len(want) != len(got) {
		return false
	}
	w, g := make([]string, 0, len(want)), make([]string, 0, len(got))
	for i := range want {
		w, g = append(w, string(want[i].Value)), append(g, string(got[i].Value))
	}
	sort.Strings(w)
	sort.Strings(g)
	for i := range w {
		if w[i] != g[i] {
			return false
		}
	}
	return true
}

func offsetsForTimes(ctx context.Context, bootstrap, topic string) error {
	base := pastBase()
	if err := produceAll(ctx, bootstrap, topic, expected(13, 90, base)); err != nil {
		return err
	}
	return withAdmin(bootstrap, func(_ *kgo.Client, adm *kadm.Client) error {
		at, err := adm.ListOffsetsAfterMilli(ctx, base.UnixMilli()+31, topic)
		if err != nil {
			return err
		}
		// Partition 0 holds records 0, 3, 6...: record 33, its 12th (offset 11), is the first
		// with a timestamp >= base+31.
		if o, _ := at.Lookup(topic, 0); o.Err != nil || o.Offset != 11 {
			return fmt.Errorf("partition 0: offset %d (%v), expected 11", o.Offset, o.Err)
		}
		// Past the last timestamp, kadm re-asks for the end offset.
		future, err := adm.ListOffsetsAfterMilli(ctx, base.UnixMilli()+10_000_000, topic)
		if err != nil {
			return err
		}
		if o, _ := future.Lookup(topic, 1); o.Err != nil || o.Offset != 30 {
			return fmt.Errorf("past the last timestamp: offset %d (%v), expected the end 30", o.Offset, o.Err)
		}
		start, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			return err
		}
		end, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return err
		}
		s, _ := start.Lookup(topic, 2)
		e, _ := end.Lookup(topic, 2)
		return check(s.Offset == 0 && e.Offset == 30, "partition 2: offsets %d,%d, expected 0,30", s.Offset, e.Offset)
	})
}

func emptyEOF(ctx context.Context, bootstrap, topic string) error {
	return withAdmin(bootstrap, func(cl *kgo.Client, adm *kadm.Client) error {
		if err := autoCreate(ctx, cl, topic); err != nil {
			return err
		}
		end, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return err
		}
		for p := int32(0); p < partitions; p++ {
			if o, ok := end.Lookup(topic, p); !ok || o.Err != nil || o.Offset != 0 {
				return fmt.Errorf("partition %d end offset %d (%v)", p, o.Offset, o.Err)
			}
		}
		c, err := newClient(bootstrap, fromStart(topic))
		if err != nil {
			return err
		}
		defer c.Close()
		got, err := drain(ctx, c, 1, 3*time.Second)
		if err != nil {
			return err
		}
		return check(len(got) == 0, "%d records came out of an empty topic", len(got))
	})
}

func describeConfigs(ctx context.Context, bootstrap, topic string) error {
	return withAdmin(bootstrap, func(_ *kgo.Client, adm *kadm.Client) error {
		ms := "3600000"
		if r, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": &ms}, topic); err != nil || r.Err != nil {
			return fmt.Errorf("create: %v %v", err, r.Err)
		}
		var rc kadm.ResourceConfig
		// A broker's metadata may lag the CreateTopics answer: retry a resource error.
		err := waitFor(ctx, func() error {
			rcs, err := adm.DescribeTopicConfigs(ctx, topic)
			if err != nil {
				return err
			}
			if rc, err = rcs.On(topic, nil); err != nil || rc.Err != nil {
				return fmt.Errorf("describe: %v %v", err, rc.Err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		found := map[string]kadm.Config{}
		for _, c := range rc.Configs {
			found[c.Key] = c
		}
		rm, cp := found["retention.ms"], found["cleanup.policy"]
		if rm.Value == nil || *rm.Value != ms || rm.Source != kmsg.ConfigSourceDynamicTopicConfig {
			return fmt.Errorf("retention.ms %v source %v", rm.MaybeValue(), rm.Source)
		}
		return check(cp.Value != nil && *cp.Value == "delete" && cp.Source == kmsg.ConfigSourceDefaultConfig,
			"cleanup.policy %v source %v", cp.MaybeValue(), cp.Source)
	})
}

func consumerGroup(ctx context.Context, bootstrap, topic string) error {
	if err := produceAll(ctx, bootstrap, topic, expected(17, 90, pastBase())); err != nil {
		return err
	}
	member := func() (*kgo.Client, error) {
		return newClient(bootstrap, kgo.ConsumerGroup("compat-"+topic), kgo.ConsumeTopics(topic),
			kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	}
	c, err := member()
	if err != nil {
		return err
	}
	got, err := drain(ctx, c, 45, 30*time.Second)
	if err != nil || len(got) < 45 {
		c.Close()
		return fmt.Errorf("first member: %d records, %v", len(got), err)
	}
	commit := map[string]map[int32]kgo.EpochOffset{topic: {}}
	for _, r := range got[:45] {
		commit[topic][r.Partition] = kgo.EpochOffset{Epoch: -1, Offset: r.Offset + 1}
	}
	var commitErr error
	c.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
		commitErr = err
	})
	c.Close()
	if commitErr != nil {
		return fmt.Errorf("commit: %w", commitErr)
	}
	c, err = member()
	if err != nil {
		return err
	}
	defer c.Close()
	rest, err := drain(ctx, c, 45, 30*time.Second)
	if err != nil {
		return err
	}
	seen := map[[2]int64]bool{}
	for _, r := range append(got[:45], rest...) {
		seen[[2]int64{int64(r.Partition), r.Offset}] = true
	}
	return check(len(rest) == 45 && len(seen) == 90, "resumed member got %d, %d distinct", len(rest), len(seen))
}
