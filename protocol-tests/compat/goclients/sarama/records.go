package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"compatgoclients/internal/driver"

	"github.com/IBM/sarama"
)

// config is sarama's default configuration (its default protocol version included) with
// manual partitioning and synchronous-producer acknowledgements.
func config() *sarama.Config {
	if os.Getenv("COMPAT_DEBUG") != "" {
		sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Lmicroseconds)
	}
	c := sarama.NewConfig()
	c.ClientID = "compat-sarama"
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Consumer.Return.Errors = true
	c.Metadata.Retry.Backoff = 200 * time.Millisecond
	// Heartbeats (sarama's default every 3 s) are how a member learns of a rebalance.
	c.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	return c
}

// toMessage makes a producer message of topic from r.
func toMessage(topic string, r driver.Record) *sarama.ProducerMessage {
	m := &sarama.ProducerMessage{Topic: topic, Partition: r.Partition, Key: sarama.ByteEncoder(r.Key),
		Value: sarama.ByteEncoder(r.Value), Timestamp: r.Timestamp}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
	}
	return m
}

// fromMessage makes a record from a consumed message.
func fromMessage(m *sarama.ConsumerMessage) driver.Record {
	r := driver.Record{Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value,
		Timestamp: m.Timestamp}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, driver.Header{Key: string(h.Key), Value: h.Value})
	}
	return r
}

// produce sends recs with a SyncProducer configured by cfg, failing on the first error.
func produce(bootstrap, topic string, recs []driver.Record, cfg *sarama.Config) error {
	// The producer gives up on a topic still being auto-created after a few quick retries:
	// let the Metadata requests create it first.
	if err := metadataAutocreate(context.Background(), bootstrap, topic); err != nil {
		return err
	}
	p, err := sarama.NewSyncProducer([]string{bootstrap}, cfg)
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, 0, len(recs))
	for _, r := range recs {
		msgs = append(msgs, toMessage(topic, r))
	}
	if err := p.SendMessages(msgs); err != nil {
		if pe, ok := err.(sarama.ProducerErrors); ok && len(pe) > 0 {
			return fmt.Errorf("produce: %d failed, first: %w", len(pe), pe[0].Err)
		}
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

// consumeFrom reads count records of topic with partition consumers starting at the given
// offset of every partition (sarama.OffsetOldest / OffsetNewest or absolute), for up to timeout.
func consumeFrom(ctx context.Context, bootstrap, topic string, start int64, count int,
	timeout time.Duration) ([]driver.Record, error) {
	c, err := sarama.NewConsumer([]string{bootstrap}, config())
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	defer c.Close()
	out := make(chan *sarama.ConsumerMessage)
	errs := make(chan error, driver.Partitions)
	for p := int32(0); p < driver.Partitions; p++ {
		pc, err := c.ConsumePartition(topic, p, start)
		if err != nil {
			return nil, fmt.Errorf("consume partition %d: %w", p, err)
		}
		defer pc.AsyncClose()
		go func() {
			for {
				select {
				case m, ok := <-pc.Messages():
					if !ok {
						return
					}
					select {
					case out <- m:
					case <-ctx.Done():
						return
					}
				case e, ok := <-pc.Errors():
					if ok {
						errs <- e
					}
					return
				}
			}
		}()
	}
	return collect(ctx, out, errs, count, timeout)
}

// collect gathers count messages from out, failing on a consumer error, for up to timeout.
func collect(ctx context.Context, out <-chan *sarama.ConsumerMessage, errs <-chan error, count int,
	timeout time.Duration) ([]driver.Record, error) {
	deadline := time.After(timeout)
	var got []driver.Record
	for len(got) < count {
		select {
		case m := <-out:
			got = append(got, fromMessage(m))
		case e := <-errs:
			return got, fmt.Errorf("consumer error: %w", e)
		case <-deadline:
			return got, nil
		case <-ctx.Done():
			return got, ctx.Err()
		}
	}
	return got, nil
}

// roundTrip produces the expected records with cfg and reads them back from the start.
func roundTrip(ctx context.Context, bootstrap, topic string, seed int64, cfg *sarama.Config) error {
	want := driver.Expected(seed, driver.Records, driver.PastBase())
	if err := produce(bootstrap, topic, want, cfg); err != nil {
		return err
	}
	got, err := consumeFrom(ctx, bootstrap, topic, sarama.OffsetOldest, len(want), 30*time.Second)
	if err != nil {
		return err
	}
	return driver.Compare(want, got)
}
