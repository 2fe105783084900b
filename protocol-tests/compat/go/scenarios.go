package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func metadataAutocreate(e *env) error {
	cl, err := client(e)
	if err != nil {
		return err
	}
	defer cl.Close()
	deadline := time.Now().Add(wait)
	got := -1
	for time.Now().Before(deadline) {
		req := kmsg.NewPtrMetadataRequest()
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(e.topic)
		req.Topics = append(req.Topics, t)
		req.AllowAutoTopicCreation = true
		resp, err := req.RequestWith(e.ctx, cl)
		if err != nil {
			return err
		}
		if len(resp.Topics) == 1 && resp.Topics[0].ErrorCode == 0 {
			got = len(resp.Topics[0].Partitions)
			if got > 0 {
				break
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	if got != numPartitions {
		return fmt.Errorf("auto-created topic has %d partitions, want %d", got, numPartitions)
	}
	return nil
}

func adminTopics(e *env) error {
	if err := createTopic(e, 1); err != nil {
		return err
	}
	adm, cl, err := admin(e)
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := adm.UpdatePartitions(e.ctx, 3, e.topic); err != nil {
		return fmt.Errorf("create partitions: %w", err)
	}
	if err := waitPartitions(e, adm, 3); err != nil {
		return err
	}
	if r, err := adm.DeleteTopic(e.ctx, e.topic); err != nil || r.Err != nil {
		return fmt.Errorf("delete topic: %v %v", err, r.Err)
	}
	return waitPartitions(e, adm, -1)
}

// waitPartitions waits until the topic lists `want` partitions (-1: until it is gone).
func waitPartitions(e *env, adm *kadm.Client, want int) error {
	deadline := time.Now().Add(wait)
	n := 0
	for time.Now().Before(deadline) {
		var err error
		if n, err = partitions(e, adm); err != nil {
			return err
		}
		if n == want {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("topic lists %d partitions, want %d", n, want)
}

func maxMessage(e *env) error {
	if err := createTopic(e, 1); err != nil {
		return err
	}
	near := records(1, e.topic, messageMaxBytes-1000, nowMinus(time.Minute))
	// kgo compresses with snappy by default: the limit applies to the stored batch.
	plain := kgo.ProducerBatchCompression(kgo.NoCompression())
	if err := produce(e, near, plain); err != nil {
		return fmt.Errorf("near-limit record: %w", err)
	}
	got, err := consume(e, kgo.NewOffset().AtStart(), 1, nil)
	if err != nil {
		return err
	}
	if err := same(got, near, "near-limit record"); err != nil {
		return err
	}
	over := records(1, e.topic, messageMaxBytes+20_000, nowMinus(time.Minute))
	err = produce(e, over, plain)
	if err == nil {
		return errors.New("over-limit record was accepted")
	}
	if !errors.Is(err, kerr.MessageTooLarge) {
		return fmt.Errorf("over-limit record: %v, want MESSAGE_TOO_LARGE", err)
	}
	return nil
}

func consumeOffsets(e *env) error {
	if err := createTopic(e, 1); err != nil {
		return err
	}
	ts0 := nowMinus(10 * time.Minute)
	want := records(50, e.topic, 40, ts0)
	if err := produce(e, want); err != nil {
		return err
	}
	got, err := consume(e, kgo.NewOffset().AtStart(), 50, nil)
	if err != nil {
		return err
	}
	if err := same(got, want, "from earliest"); err != nil {
		return err
	}
	adm, cl, err := admin(e)
	if err != nil {
		return err
	}
	defer cl.Close()
	ends, err := adm.ListEndOffsets(e.ctx, e.topic)
	if err != nil {
		return err
	}
	if o, ok := ends.Lookup(e.topic, 0); !ok || o.Err != nil || o.Offset != 50 {
		return fmt.Errorf("end offset: %+v, want 50", o)
	}
	// Records at or after ts0+205 ms start at offset 21 (timestamps step by 10 ms).
	byTime, err := adm.ListOffsetsAfterMilli(e.ctx, ts0+205, e.topic)
	if err != nil {
		return err
	}
	o, ok := byTime.Lookup(e.topic, 0)
	if !ok || o.Err != nil || o.Offset != 21 {
		return fmt.Errorf("offset for timestamp: %+v, want 21", o)
	}
	if got, err = consume(e, kgo.NewOffset().At(o.Offset), 29, nil); err != nil {
		return err
	}
	if err := same(got, want[21:], "from offset for timestamp"); err != nil {
		return err
	}
	later := records(5, e.topic+"-later", 40, nowMinus(time.Second))
	got, err = consume(e, kgo.NewOffset().AtEnd(), 5, func() error { return produce(e, later) })
	if err != nil {
		return err
	}
	return same(got, later, "from latest")
}

func emptyTopicEOF(e *env) error {
	if err := createTopic(e, 1); err != nil {
		return err
	}
	adm, cl, err := admin(e)
	if err != nil {
		return err
	}
	defer cl.Close()
	ends, err := adm.ListEndOffsets(e.ctx, e.topic)
	if err != nil {
		return err
	}
	if o, ok := ends.Lookup(e.topic, 0); !ok || o.Err != nil || o.Offset != 0 {
		return fmt.Errorf("end offset of an empty topic: %+v, want 0", o)
	}
	cons, err := client(e, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		e.topic: {0: kgo.NewOffset().AtStart()}}), kgo.FetchMaxWait(300*time.Millisecond))
	if err != nil {
		return err
	}
	defer cons.Close()
	// Fetches at the end of the partition answer with no records and high watermark 0.
	for i := 0; i < 3; i++ {
		ctx, cancel := context.WithTimeout(e.ctx, time.Second)
		fs := cons.PollFetches(ctx)
		cancel()
		if fs.NumRecords() != 0 {
			return errors.New("records read from an empty topic")
		}
		for _, err := range fs.Errors() {
			if !errors.Is(err.Err, context.DeadlineExceeded) {
				return fmt.Errorf("fetch error: %w", err.Err)
			}
		}
	}
	return nil
}

func consumerGroup(e *env) error {
	if err := createTopic(e, 1); err != nil {
		return err
	}
	want := records(40, e.topic, 40, nowMinus(time.Minute))
	if err := produce(e, want); err != nil {
		return err
	}
	group := e.topic + "-group"
	first, err := groupConsume(e, group, 15)
	if err != nil {
		return fmt.Errorf("first member: %w", err)
	}
	if err := same(first, want[:15], "first member"); err != nil {
		return err
	}
	rest, err := groupConsume(e, group, 25)
	if err != nil {
		return fmt.Errorf("second member: %w", err)
	}
	return same(rest, want[15:], "second member resumes at commit")
}

func groupConsume(e *env, group string, n int) ([]rec, error) {
	cl, err := client(e, kgo.ConsumerGroup(group), kgo.ConsumeTopics(e.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	got, err := poll(e, cl, n)
	if err != nil {
		return got, err
	}
	if err := cl.CommitUncommittedOffsets(e.ctx); err != nil {
		return got, fmt.Errorf("commit: %w", err)
	}
	return got, cl.LeaveGroupContext(e.ctx)
}

func describeConfigs(e *env) error {
	if err := createTopic(e, 1); err != nil {
		return err
	}
	adm, cl, err := admin(e)
	if err != nil {
		return err
	}
	defer cl.Close()
	rcs, err := adm.DescribeTopicConfigs(e.ctx, e.topic)
	if err != nil {
		return err
	}
	rc, err := rcs.On(e.topic, nil)
	if err != nil {
		return err
	}
	if rc.Err != nil {
		return rc.Err
	}
	found := map[string]string{}
	for _, c := range rc.Configs {
		found[c.Key] = c.MaybeValue()
	}
	if found["cleanup.policy"] != "delete" {
		return fmt.Errorf("cleanup.policy = %q", found["cleanup.policy"])
	}
	if _, ok := found["retention.ms"]; !ok {
		return errors.New("retention.ms missing")
	}
	return nil
}
