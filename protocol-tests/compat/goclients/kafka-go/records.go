package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"compatgoclients/internal/driver"

	"github.com/segmentio/kafka-go"
)

// manual sends every message to the partition it names.
var manual = kafka.BalancerFunc(func(m kafka.Message, _ ...int) int { return m.Partition })

// writer makes a synchronous Writer to topic that keeps each message's partition.
func writer(bootstrap, topic string, codec kafka.Compression) *kafka.Writer {
	return &kafka.Writer{Addr: kafka.TCP(bootstrap), Topic: topic, Balancer: manual,
		Compression: codec, BatchTimeout: 5 * time.Millisecond, BatchSize: driver.Records,
		RequiredAcks: kafka.RequireAll, AllowAutoTopicCreation: true}
}

func toMessage(r driver.Record) kafka.Message {
	m := kafka.Message{Partition: int(r.Partition), Key: r.Key, Value: r.Value, Time: r.Timestamp}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, kafka.Header{Key: h.Key, Value: h.Value})
	}
	return m
}

func fromMessage(m kafka.Message) driver.Record {
	r := driver.Record{Partition: int32(m.Partition), Offset: m.Offset, Key: m.Key, Value: m.Value,
		Timestamp: m.Time}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, driver.Header{Key: h.Key, Value: h.Value})
	}
	return r
}

// firstError unwraps the per-message errors of a Writer.
func firstError(err error) error {
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e != nil {
				return fmt.Errorf("%d of %d messages failed, first: %w", we.Count(), len(we), e)
			}
		}
	}
	return err
}

// produce writes recs with codec, waiting for every acknowledgement; a topic the broker does
// not know yet is retried until it is auto-created.
func produce(ctx context.Context, bootstrap, topic string, recs []driver.Record, codec kafka.Compression) error {
	w := writer(bootstrap, topic, codec)
	defer w.Close()
	msgs := make([]kafka.Message, 0, len(recs))
	for _, r := range recs {
		msgs = append(msgs, toMessage(r))
	}
	err := driver.WaitFor(ctx, "the topic to be auto-created", 15*time.Second, func() error {
		err := w.WriteMessages(ctx, msgs...)
		if errors.Is(firstError(err), kafka.UnknownTopicOrPartition) {
			return err
		}
		if err != nil {
			return &permanent{err}
		}
		return nil
	})
	var p *permanent
	if errors.As(err, &p) {
		err = p.err
	}
	if err != nil {
		return fmt.Errorf("produce: %w", firstError(err))
	}
	return nil
}

// permanent stops WaitFor's retries: the error will not go away.
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }

// consumeFrom reads count records of topic with one partition Reader per partition starting
// at start (kafka.FirstOffset, kafka.LastOffset or absolute), for up to timeout.
func consumeFrom(ctx context.Context, bootstrap, topic string, start int64, count int,
	timeout time.Duration) ([]driver.Record, error) {
	starts := map[int]int64{}
	for p := 0; p < driver.Partitions; p++ {
		starts[p] = start
	}
	return consumeEach(ctx, bootstrap, topic, starts, count, timeout)
}

// consumeEach is consumeFrom with a start offset per partition.
func consumeEach(ctx context.Context, bootstrap, topic string, starts map[int]int64, count int,
	timeout time.Duration) ([]driver.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := make(chan kafka.Message)
	errs := make(chan error, driver.Partitions)
	for p := 0; p < driver.Partitions; p++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{bootstrap}, Topic: topic, Partition: p,
			MaxBytes: 4 << 20, MaxWait: 200 * time.Millisecond})
		if err := r.SetOffset(starts[p]); err != nil {
			return nil, err
		}
		defer r.Close()
		go func() {
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						errs <- fmt.Errorf("partition %d: %w", p, err)
					}
					return
				}
				select {
				case out <- m:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	var got []driver.Record
	for len(got) < count {
		select {
		case m := <-out:
			got = append(got, fromMessage(m))
		case e := <-errs:
			return got, e
		case <-ctx.Done():
			return got, nil
		}
	}
	return got, nil
}

// roundTrip produces the expected records with codec and reads them back from the start.
func roundTrip(ctx context.Context, bootstrap, topic string, seed int64, codec kafka.Compression) error {
	want := driver.Expected(seed, driver.Records, driver.PastBase())
	if err := produce(ctx, bootstrap, topic, want, codec); err != nil {
		return err
	}
	got, err := consumeFrom(ctx, bootstrap, topic, kafka.FirstOffset, len(want), 30*time.Second)
	if err != nil {
		return err
	}
	return driver.Compare(want, got)
}

// leaderConn dials the leader of one partition of topic.
func leaderConn(ctx context.Context, bootstrap, topic string, p int) (*kafka.Conn, error) {
	return kafka.DialLeader(ctx, "tcp", bootstrap, topic, p)
}

// addr is the broker address for Client requests.
func addr(bootstrap string) net.Addr { return kafka.TCP(bootstrap) }
