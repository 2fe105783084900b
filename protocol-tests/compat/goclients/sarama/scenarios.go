package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"compatgoclients/internal/driver"

	"github.com/IBM/sarama"
)

// withAdmin runs fn with a client and a ClusterAdmin sharing it.
func withAdmin(bootstrap string, fn func(sarama.Client, sarama.ClusterAdmin) error) error {
	cl, err := sarama.NewClient([]string{bootstrap}, config())
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	adm, err := sarama.NewClusterAdminFromClient(cl)
	if err != nil {
		cl.Close()
		return fmt.Errorf("admin: %w", err)
	}
	defer adm.Close() // closes cl too
	return fn(cl, adm)
}

func metadataAutocreate(ctx context.Context, bootstrap, topic string) error {
	return withAdmin(bootstrap, func(cl sarama.Client, _ sarama.ClusterAdmin) error {
		return driver.WaitFor(ctx, "the auto-created topic's leaders", 15*time.Second, func() error {
			// Metadata for the topic, with allow_auto_topic_creation (sarama's default).
			if err := cl.RefreshMetadata(topic); err != nil {
				return err
			}
			ps, err := cl.Partitions(topic)
			if err != nil {
				return err
			}
			if len(ps) != driver.Partitions {
				return fmt.Errorf("%d partitions", len(ps))
			}
			for _, p := range ps {
				if _, err := cl.Leader(topic, p); err != nil {
					return fmt.Errorf("partition %d leader: %w", p, err)
				}
			}
			return nil
		})
	})
}

// partitionCount waits until the admin describes topic with want partitions.
func partitionCount(ctx context.Context, adm sarama.ClusterAdmin, topic string, want int) error {
	return driver.WaitFor(ctx, fmt.Sprintf("%d partitions", want), 15*time.Second, func() error {
		md, err := adm.DescribeTopics([]string{topic})
		if err != nil {
			return err
		}
		if len(md) != 1 || !errors.Is(md[0].Err, sarama.ErrNoError) {
			return fmt.Errorf("describe: %d topics, %v", len(md), md)
		}
		return driver.Check(len(md[0].Partitions) == want, "%d partitions", len(md[0].Partitions))
	})
}

func adminTopics(ctx context.Context, bootstrap, topic string) error {
	return withAdmin(bootstrap, func(_ sarama.Client, adm sarama.ClusterAdmin) error {
		if err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1}, false); err != nil {
			return fmt.Errorf("create: %w", err)
		}
		if err := partitionCount(ctx, adm, topic, 2); err != nil {
			return fmt.Errorf("after create: %w", err)
		}
		if err := adm.CreatePartitions(topic, 4, nil, false); err != nil {
			return fmt.Errorf("create partitions: %w", err)
		}
		if err := partitionCount(ctx, adm, topic, 4); err != nil {
			return fmt.Errorf("after create partitions: %w", err)
		}
		if err := adm.DeleteTopic(topic); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		return driver.WaitFor(ctx, "the deleted topic to go", 15*time.Second, func() error {
			ts, err := adm.ListTopics()
			if err != nil {
				return err
			}
			_, still := ts[topic]
			return driver.Check(!still, "topic still listed")
		})
	})
}

func codec(c sarama.CompressionCodec, seed int64) driver.Scenario {
	return func(ctx context.Context, b, t string) error {
		cfg := config()
		cfg.Producer.Compression = c
		return roundTrip(ctx, b, t, seed, cfg)
	}
}

func maxMessage(ctx context.Context, bootstrap, topic string) error {
	if err := metadataAutocreate(ctx, bootstrap, topic); err != nil {
		return err
	}
	cfg := config()
	cfg.Producer.MaxMessageBytes = 2_000_000 // the client limit, raised so the broker decides
	p, err := sarama.NewSyncProducer([]string{bootstrap}, cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	near := bytes.Repeat([]byte("n"), 1_000_000)
	_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder("near"),
		Value: sarama.ByteEncoder(near)})
	if err != nil {
		return fmt.Errorf("near-max record: %w", err)
	}
	_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder("over"),
		Value: sarama.ByteEncoder(bytes.Repeat([]byte("o"), 1_100_000))})
	if !errors.Is(err, sarama.ErrMessageSizeTooLarge) {
		return fmt.Errorf("over-max record: %v, expected MESSAGE_TOO_LARGE", err)
	}
	got, err := consumeFrom(ctx, bootstrap, topic, sarama.OffsetOldest, 1, 30*time.Second)
	if err != nil {
		return err
	}
	return driver.Check(len(got) == 1 && bytes.Equal(got[0].Value, near), "near-max record not read back")
}

// idempotent produces with an idempotent AsyncProducer (sarama's default is not idempotent).
func idempotent(ctx context.Context, bootstrap, topic string) error {
	if err := metadataAutocreate(ctx, bootstrap, topic); err != nil {
		return err
	}
	cfg := config()
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Errors = true
	p, err := sarama.NewAsyncProducer([]string{bootstrap}, cfg)
	if err != nil {
		return err
	}
	want := driver.Expected(7, driver.Records, driver.PastBase())
	go func() {
		for _, r := range want {
			p.Input() <- toMessage(topic, r)
		}
	}()
	var firstErr error
	for acked := 0; acked < len(want); acked++ {
		select {
		case <-p.Successes():
		case e := <-p.Errors():
			if firstErr == nil {
				firstErr = e.Err
			}
		case <-ctx.Done():
			p.AsyncClose()
			return fmt.Errorf("async producer: %d of %d acknowledged: %w", acked, len(want), ctx.Err())
		}
	}
	if err := p.Close(); err != nil || firstErr != nil {
		return fmt.Errorf("async producer: %v %v", firstErr, err)
	}
	got, err := consumeFrom(ctx, bootstrap, topic, sarama.OffsetOldest, len(want), 30*time.Second)
	if err != nil {
		return err
	}
	return driver.Compare(want, got)
}

func earliestLatest(ctx context.Context, bootstrap, topic string) error {
	if err := produce(bootstrap, topic, driver.Expected(11, 60, driver.PastBase()), config()); err != nil {
		return err
	}
	if got, err := consumeFrom(ctx, bootstrap, topic, sarama.OffsetOldest, 60, 30*time.Second); err != nil || len(got) != 60 {
		return fmt.Errorf("earliest: %d records, %v", len(got), err)
	}
	c, err := sarama.NewConsumer([]string{bootstrap}, config())
	if err != nil {
		return err
	}
	defer c.Close()
	out := make(chan *sarama.ConsumerMessage, 100)
	for p := int32(0); p < driver.Partitions; p++ {
		// ConsumePartition resolves OffsetNewest before it returns: later records are new.
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetNewest)
		if err != nil {
			return err
		}
		defer pc.AsyncClose()
		go func() {
			for m := range pc.Messages() {
				out <- m
			}
		}()
	}
	later := driver.Expected(12, 30, driver.PastBase())
	if err := produce(bootstrap, topic, later, config()); err != nil {
		return err
	}
	got, err := collect(ctx, out, nil, 30, 30*time.Second)
	if err != nil {
		return err
	}
	extra, _ := collect(ctx, out, nil, 1, time.Second)
	got = append(got, extra...)
	return driver.Check(driver.SameValues(later, got), "latest: %d records, expected the 30 new ones", len(got))
}

func offsetsForTimes(ctx context.Context, bootstrap, topic string) error {
	base := driver.PastBase()
	if err := produce(bootstrap, topic, driver.Expected(13, 90, base), config()); err != nil {
		return err
	}
	cl, err := sarama.NewClient([]string{bootstrap}, config())
	if err != nil {
		return err
	}
	defer cl.Close()
	// Partition 0 holds records 0, 3, 6...: record 33, its 12th (offset 11), is the first
	// with a timestamp >= base+31.
	if o, err := cl.GetOffset(topic, 0, base.UnixMilli()+31); err != nil || o != 11 {
		return fmt.Errorf("partition 0 at base+31: offset %d (%v), expected 11", o, err)
	}
	// Past the last timestamp ListOffsets answers -1 (no such offset).
	if o, err := cl.GetOffset(topic, 1, base.UnixMilli()+10_000_000); err != nil || o != -1 {
		return fmt.Errorf("past the last timestamp: offset %d (%v), expected -1", o, err)
	}
	s, err1 := cl.GetOffset(topic, 2, sarama.OffsetOldest)
	e, err2 := cl.GetOffset(topic, 2, sarama.OffsetNewest)
	return driver.Check(err1 == nil && err2 == nil && s == 0 && e == 30,
		"partition 2: offsets %d,%d (%v %v), expected 0,30", s, e, err1, err2)
}

func emptyEOF(ctx context.Context, bootstrap, topic string) error {
	if err := metadataAutocreate(ctx, bootstrap, topic); err != nil {
		return err
	}
	cl, err := sarama.NewClient([]string{bootstrap}, config())
	if err != nil {
		return err
	}
	defer cl.Close()
	for p := int32(0); p < driver.Partitions; p++ {
		if o, err := cl.GetOffset(topic, p, sarama.OffsetNewest); err != nil || o != 0 {
			return fmt.Errorf("partition %d end offset %d (%v)", p, o, err)
		}
	}
	got, err := consumeFrom(ctx, bootstrap, topic, sarama.OffsetOldest, 1, 3*time.Second)
	if err != nil {
		return err
	}
	return driver.Check(len(got) == 0, "%d records came out of an empty topic", len(got))
}

// topicConfigs describes topic's configs, retrying while the broker does not know it yet.
func topicConfigs(ctx context.Context, adm sarama.ClusterAdmin, topic string) (map[string]sarama.ConfigEntry, error) {
	found := map[string]sarama.ConfigEntry{}
	err := driver.WaitFor(ctx, "DescribeConfigs of the topic", 15*time.Second, func() error {
		entries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
		for _, e := range entries {
			found[e.Name] = e
		}
		return err
	})
	return found, err
}

func describeConfigs(ctx context.Context, bootstrap, topic string) error {
	return withAdmin(bootstrap, func(_ sarama.Client, adm sarama.ClusterAdmin) error {
		ms := "3600000"
		err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1,
			ConfigEntries: map[string]*string{"retention.ms": &ms}}, false)
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		found, err := topicConfigs(ctx, adm, topic)
		if err != nil {
			return err
		}
		rm, cp := found["retention.ms"], found["cleanup.policy"]
		if rm.Value != ms || rm.Source != sarama.SourceTopic {
			return fmt.Errorf("retention.ms %q source %v", rm.Value, rm.Source)
		}
		return driver.Check(cp.Value == "delete" && cp.Source == sarama.SourceDefault,
			"cleanup.policy %q source %v", cp.Value, cp.Source)
	})
}
