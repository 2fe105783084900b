package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"compatgoclients/internal/driver"

	"github.com/segmentio/kafka-go"
)

func metadataAutocreate(ctx context.Context, bootstrap, topic string) error {
	conn, err := kafka.DialContext(ctx, "tcp", bootstrap)
	if err != nil {
		return err
	}
	defer conn.Close()
	return driver.WaitFor(ctx, "the auto-created topic's leaders", 15*time.Second, func() error {
		// Conn's Metadata request allows auto topic creation.
		ps, err := conn.ReadPartitions(topic)
		if err != nil {
			return err
		}
		if len(ps) != driver.Partitions {
			return fmt.Errorf("%d partitions", len(ps))
		}
		for _, p := range ps {
			if p.Leader.Port == 0 || p.Error != nil {
				return fmt.Errorf("partition %d: leader %v, %v", p.ID, p.Leader, p.Error)
			}
		}
		return nil
	})
}

// partitionCount waits until Metadata shows topic with want partitions.
func partitionCount(ctx context.Context, cl *kafka.Client, topic string, want int) error {
	return driver.WaitFor(ctx, fmt.Sprintf("%d partitions", want), 15*time.Second, func() error {
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil {
			return err
		}
		if len(md.Topics) != 1 || md.Topics[0].Error != nil {
			return fmt.Errorf("metadata: %d topics, %v", len(md.Topics), md.Topics)
		}
		return driver.Check(len(md.Topics[0].Partitions) == want, "%d partitions", len(md.Topics[0].Partitions))
	})
}

// createTopic creates topic with partitions and configs, failing on a topic error.
func createTopic(ctx context.Context, cl *kafka.Client, topic string, partitions int, configs ...kafka.ConfigEntry) error {
	resp, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: partitions, ReplicationFactor: 1, ConfigEntries: configs}}})
	if err == nil {
		err = resp.Errors[topic]
	}
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	return nil
}

func adminTopics(ctx context.Context, bootstrap, topic string) error {
	cl := &kafka.Client{Addr: addr(bootstrap)}
	if err := createTopic(ctx, cl, topic, 2); err != nil {
		return err
	}
	if err := partitionCount(ctx, cl, topic, 2); err != nil {
		return fmt.Errorf("after create: %w", err)
	}
	cp, err := cl.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{Topics: []kafka.TopicPartitionsConfig{{
		Name: topic, Count: 4}}})
	if err == nil {
		err = cp.Errors[topic]
	}
	if err != nil {
		return fmt.Errorf("create partitions: %w", err)
	}
	if err := partitionCount(ctx, cl, topic, 4); err != nil {
		return fmt.Errorf("after create partitions: %w", err)
	}
	dt, err := cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	if err == nil {
		err = dt.Errors[topic]
	}
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return driver.WaitFor(ctx, "the deleted topic to go", 15*time.Second, func() error {
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{})
		if err != nil {
			return err
		}
		for _, t := range md.Topics {
			if t.Name == topic {
				return errors.New("topic still listed")
			}
		}
		return nil
	})
}

func codec(c kafka.Compression, seed int64) driver.Scenario {
	return func(ctx context.Context, b, t string) error { return roundTrip(ctx, b, t, seed, c) }
}

func maxMessage(ctx context.Context, bootstrap, topic string) error {
	if err := metadataAutocreate(ctx, bootstrap, topic); err != nil {
		return err
	}
	w := writer(bootstrap, topic, 0)
	w.BatchBytes = 2_000_000 // the client limit, raised so the broker decides
	defer w.Close()
	near := bytes.Repeat([]byte("n"), 1_000_000)
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("near"), Value: near}); err != nil {
		return fmt.Errorf("near-max record: %w", firstError(err))
	}
	err := firstError(w.WriteMessages(ctx, kafka.Message{Key: []byte("over"), Value: bytes.Repeat([]byte("o"), 1_100_000)}))
	if !errors.Is(err, kafka.MessageSizeTooLarge) {
		return fmt.Errorf("over-max record: %v, expected MESSAGE_TOO_LARGE", err)
	}
	got, err := consumeFrom(ctx, bootstrap, topic, kafka.FirstOffset, 1, 30*time.Second)
	if err != nil {
		return err
	}
	return driver.Check(len(got) == 1 && bytes.Equal(got[0].Value, near), "near-max record not read back")
}

func earliestLatest(ctx context.Context, bootstrap, topic string) error {
	if err := produce(ctx, bootstrap, topic, driver.Expected(11, 60, driver.PastBase()), 0); err != nil {
		return err
	}
	if got, err := consumeFrom(ctx, bootstrap, topic, kafka.FirstOffset, 60, 30*time.Second); err != nil || len(got) != 60 {
		return fmt.Errorf("earliest: %d records, %v", len(got), err)
	}
	// A Reader resolves LastOffset lazily; resolve each end offset first, then read from it.
	ends := map[int]int64{}
	for p := 0; p < driver.Partitions; p++ {
		conn, err := leaderConn(ctx, bootstrap, topic, p)
		if err != nil {
			return err
		}
		ends[p], err = conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			return err
		}
	}
	later := driver.Expected(12, 30, driver.PastBase())
	if err := produce(ctx, bootstrap, topic, later, 0); err != nil {
		return err
	}
	// Up to 31 records: one more than produced would show in the second wait.
	got, err := consumeEach(ctx, bootstrap, topic, ends, 30, 30*time.Second)
	if err != nil {
		return err
	}
	if len(got) == 30 {
		extra, err := consumeEach(ctx, bootstrap, topic, map[int]int64{0: ends[0] + 10, 1: ends[1] + 10, 2: ends[2] + 10}, 1, time.Second)
		if err != nil {
			return err
		}
		got = append(got, extra...)
	}
	return driver.Check(driver.SameValues(later, got), "latest: %d records, expected the 30 new ones", len(got))
}

func offsetsForTimes(ctx context.Context, bootstrap, topic string) error {
	base := driver.PastBase()
	if err := produce(ctx, bootstrap, topic, driver.Expected(13, 90, base), 0); err != nil {
		return err
	}
	cl := &kafka.Client{Addr: addr(bootstrap)}
	resp, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {
		kafka.TimeOffsetOf(0, base.Add(31*time.Millisecond)),
		kafka.TimeOffsetOf(1, base.Add(10_000_000*time.Millisecond)),
		kafka.FirstOffsetOf(2), kafka.LastOffsetOf(2)}}})
	if err != nil {
		return err
	}
	got := map[int]kafka.PartitionOffsets{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return fmt.Errorf("partition %d: %w", po.Partition, po.Error)
		}
		got[po.Partition] = po
	}
	// Partition 0 holds records 0, 3, 6...: record 33, its 12th (offset 11), is the first
	// with a timestamp >= base+31.
	if o := offsetAt(got[0]); o != 11 {
		return fmt.Errorf("partition 0 at base+31: offset %d, expected 11 (%v)", o, got[0])
	}
	// Past the last timestamp ListOffsets answers -1 (no such offset).
	if o := offsetAt(got[1]); o != -1 {
		return fmt.Errorf("past the last timestamp: offset %d, expected -1 (%v)", o, got[1])
	}
	return driver.Check(got[2].FirstOffset == 0 && got[2].LastOffset == 30,
		"partition 2: offsets %d,%d, expected 0,30", got[2].FirstOffset, got[2].LastOffset)
}

// offsetAt is the offset a by-timestamp lookup found, or -1 when there was none.
func offsetAt(po kafka.PartitionOffsets) int64 {
	for o := range po.Offsets {
		return o
	}
	return -1
}

func emptyEOF(ctx context.Context, bootstrap, topic string) error {
	if err := metadataAutocreate(ctx, bootstrap, topic); err != nil {
		return err
	}
	for p := 0; p < driver.Partitions; p++ {
		conn, err := leaderConn(ctx, bootstrap, topic, p)
		if err != nil {
			return err
		}
		first, last, err := conn.ReadOffsets()
		conn.Close()
		if err != nil || first != 0 || last != 0 {
			return fmt.Errorf("partition %d offsets %d,%d (%v)", p, first, last, err)
		}
	}
	got, err := consumeFrom(ctx, bootstrap, topic, kafka.FirstOffset, 1, 3*time.Second)
	if err != nil {
		return err
	}
	return driver.Check(len(got) == 0, "%d records came out of an empty topic", len(got))
}

// topicConfigs describes topic's configs: value and source by name.
func topicConfigs(ctx context.Context, cl *kafka.Client, topic string) (map[string]kafka.DescribeConfigResponseConfigEntry, error) {
	found := map[string]kafka.DescribeConfigResponseConfigEntry{}
	err := driver.WaitFor(ctx, "DescribeConfigs of the topic", 15*time.Second, func() error {
		resp, err := cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: topic}}})
		if err != nil {
			return err
		}
		if len(resp.Resources) != 1 || resp.Resources[0].Error != nil {
			return fmt.Errorf("describe: %v", resp.Resources)
		}
		for _, e := range resp.Resources[0].ConfigEntries {
			found[e.ConfigName] = e
		}
		return nil
	})
	return found, err
}

// Config sources of DescribeConfigs v1+.
const (
	sourceTopic   = 1
	sourceDefault = 5
)

func describeConfigs(ctx context.Context, bootstrap, topic string) error {
	cl := &kafka.Client{Addr: addr(bootstrap)}
	if err := createTopic(ctx, cl, topic, 1, kafka.ConfigEntry{ConfigName: "retention.ms", ConfigValue: "3600000"}); err != nil {
		return err
	}
	found, err := topicConfigs(ctx, cl, topic)
	if err != nil {
		return err
	}
	rm, cp := found["retention.ms"], found["cleanup.policy"]
	if rm.ConfigValue != "3600000" || rm.ConfigSource != sourceTopic {
		return fmt.Errorf("retention.ms %q source %d", rm.ConfigValue, rm.ConfigSource)
	}
	return driver.Check(cp.ConfigValue == "delete" && cp.ConfigSource == sourceDefault,
		"cleanup.policy %q source %d", cp.ConfigValue, cp.ConfigSource)
}

func alterConfigs(ctx context.Context, bootstrap, topic string) error {
	cl := &kafka.Client{Addr: addr(bootstrap)}
	if err := createTopic(ctx, cl, topic, 1); err != nil {
		return err
	}
	if _, err := topicConfigs(ctx, cl, topic); err != nil {
		return err
	}
	alter := func(cfgs ...kafka.IncrementalAlterConfigsRequestConfig) error {
		resp, err := cl.IncrementalAlterConfigs(ctx, &kafka.IncrementalAlterConfigsRequest{
			Resources: []kafka.IncrementalAlterConfigsRequestResource{{
				ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, Configs: cfgs}}})
		if err != nil {
			return err
		}
		for _, r := range resp.Resources {
			if r.Error != nil {
				return r.Error
			}
		}
		return nil
	}
	set := func(name, value string) kafka.IncrementalAlterConfigsRequestConfig {
		return kafka.IncrementalAlterConfigsRequestConfig{Name: name, Value: value, ConfigOperation: kafka.ConfigOperationSet}
	}
	if err := alter(set("retention.ms", "7200000"), set("cleanup.policy", "compact")); err != nil {
		return fmt.Errorf("SET: %w", err)
	}
	// A broker applies config changes through its metadata log: describe until they show.
	type entry = kafka.DescribeConfigResponseConfigEntry
	shows := func(what string, ok func(rm, cp entry) bool) error {
		return driver.WaitFor(ctx, what, 10*time.Second, func() error {
			found, err := topicConfigs(ctx, cl, topic)
			if err != nil {
				return err
			}
			rm, cp := found["retention.ms"], found["cleanup.policy"]
			return driver.Check(ok(rm, cp), "retention.ms %q (%d), cleanup.policy %q (%d)",
				rm.ConfigValue, rm.ConfigSource, cp.ConfigValue, cp.ConfigSource)
		})
	}
	err := shows("retention.ms=7200000 and cleanup.policy=compact as topic overrides", func(rm, cp entry) bool {
		return rm.ConfigValue == "7200000" && rm.ConfigSource == sourceTopic && cp.ConfigValue == "compact" && cp.ConfigSource == sourceTopic
	})
	if err != nil {
		return err
	}
	del := kafka.IncrementalAlterConfigsRequestConfig{Name: "retention.ms", ConfigOperation: kafka.ConfigOperationDelete}
	if err := alter(del); err != nil {
		return fmt.Errorf("DELETE: %w", err)
	}
	err = shows("retention.ms back to its default, cleanup.policy=compact", func(rm, cp entry) bool {
		return rm.ConfigValue == "604800000" && rm.ConfigSource == sourceDefault && cp.ConfigValue == "compact"
	})
	if err != nil {
		return err
	}
	err = alter(set("retention.ms", "not-a-number"))
	return driver.Check(errors.Is(err, kafka.InvalidConfiguration), "invalid value: %v, expected INVALID_CONFIG", err)
}
