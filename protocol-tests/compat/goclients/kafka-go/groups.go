package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"compatgoclients/internal/driver"

	"github.com/segmentio/kafka-go"
)

// groupOf is the group id of a scenario's topic.
func groupOf(topic string) string { return "compat-" + topic }

// seenMu guards the seen maps the members of a scenario share; held only to count a record.
var seenMu sync.Mutex

// member is a Reader in a consumer group, fetching in the background: each record is counted
// in seen and committed synchronously (CommitMessages) before the next fetch. With a cut,
// records at or past cut[partition] are neither counted nor committed.
type member struct {
	r      *kafka.Reader
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex // short sections only: err is set by the fetch goroutine
	err    error
}

func newMember(bootstrap, topic string, seen map[[2]int64]int, cut map[int]int64,
	balancer kafka.GroupBalancer) *member {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{bootstrap}, GroupID: groupOf(topic),
		Topic: topic, StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond,
		GroupBalancers:    []kafka.GroupBalancer{balancer},
		HeartbeatInterval: 500 * time.Millisecond, SessionTimeout: 10 * time.Second,
		RebalanceTimeout: 10 * time.Second, JoinGroupBackoff: 500 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{r: r, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			msg, err := r.FetchMessage(ctx)
			if err == nil {
				if c, ok := cut[msg.Partition]; ok && msg.Offset >= c {
					continue
				}
				seenMu.Lock()
				seen[[2]int64{int64(msg.Partition), msg.Offset}]++
				seenMu.Unlock()
				err = r.CommitMessages(ctx, msg)
			}
			if err != nil {
				if ctx.Err() == nil {
					m.mu.Lock()
					m.err = err
					m.mu.Unlock()
				}
				return
			}
		}
	}()
	return m
}

func (m *member) failure() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// close stops fetching and closes the Reader, which leaves the group.
func (m *member) close() error {
	m.cancel()
	<-m.done
	return m.r.Close()
}

// waitProcessed waits until the members processed want records in all.
func waitProcessed(ctx context.Context, seen map[[2]int64]int, want int, ms ...*member) error {
	return driver.WaitFor(ctx, fmt.Sprintf("%d records processed", want), 30*time.Second, func() error {
		for _, m := range ms {
			if err := m.failure(); err != nil {
				return fmt.Errorf("member error: %w", err)
			}
		}
		seenMu.Lock()
		n := 0
		for _, c := range seen {
			n += c
		}
		seenMu.Unlock()
		return driver.Check(n >= want, "%d processed", n)
	})
}

// settled waits until DescribeGroups shows a Stable group of members members with non-empty,
// disjoint assignments covering every partition.
func settled(ctx context.Context, bootstrap, topic string, members int) error {
	cl := &kafka.Client{Addr: addr(bootstrap)}
	return driver.WaitFor(ctx, fmt.Sprintf("a stable group of %d covering every partition", members), 30*time.Second, func() error {
		resp, err := cl.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{groupOf(topic)}})
		if err != nil {
			return err
		}
		if len(resp.Groups) != 1 || resp.Groups[0].Error != nil {
			return fmt.Errorf("describe groups: %v", resp.Groups)
		}
		g := resp.Groups[0]
		var all []int
		var each [][]int
		for _, mb := range g.Members {
			var ps []int
			for _, t := range mb.MemberAssignments.Topics {
				ps = append(ps, t.Partitions...)
			}
			if len(ps) == 0 {
				return fmt.Errorf("member %s has no partitions", mb.MemberID)
			}
			each = append(each, ps)
			all = append(all, ps...)
		}
		slices.Sort(all)
		return driver.Check(g.GroupState == "Stable" && len(g.Members) == members && slices.Equal(all, []int{0, 1, 2}),
			"group %s with %d members, assignments %v", g.GroupState, len(g.Members), each)
	})
}

func groupResume(ctx context.Context, bootstrap, topic string) error {
	if err := produce(ctx, bootstrap, topic, driver.Expected(17, 90, driver.PastBase()), 0); err != nil {
		return err
	}
	first := map[[2]int64]int{}
	m := newMember(bootstrap, topic, first, map[int]int64{0: 15, 1: 15, 2: 15}, kafka.RangeGroupBalancer{})
	if err := waitProcessed(ctx, first, 45, m); err != nil {
		m.close()
		return fmt.Errorf("first member: %w", err)
	}
	if err := m.close(); err != nil {
		return fmt.Errorf("first member close: %w", err)
	}
	rest := map[[2]int64]int{}
	m = newMember(bootstrap, topic, rest, nil, kafka.RangeGroupBalancer{})
	defer m.close()
	if err := waitProcessed(ctx, rest, 45, m); err != nil {
		return fmt.Errorf("resumed member: %w", err)
	}
	seenMu.Lock()
	defer seenMu.Unlock()
	for k, n := range rest {
		if k[1] < 15 || n != 1 {
			return fmt.Errorf("resumed member processed partition %d offset %d %d times", k[0], k[1], n)
		}
	}
	return nil
}

func groupRebalance(ctx context.Context, bootstrap, topic string) error {
	if err := produce(ctx, bootstrap, topic, driver.Expected(19, 90, driver.PastBase()), 0); err != nil {
		return err
	}
	seen := map[[2]int64]int{}
	a := newMember(bootstrap, topic, seen, nil, kafka.RoundRobinGroupBalancer{})
	defer a.close()
	b := newMember(bootstrap, topic, seen, nil, kafka.RoundRobinGroupBalancer{})
	defer b.close()
	if err := settled(ctx, bootstrap, topic, 2); err != nil {
		return fmt.Errorf("two members: %w", err)
	}
	if err := waitProcessed(ctx, seen, 90, a, b); err != nil {
		return err
	}
	if err := a.close(); err != nil {
		return fmt.Errorf("first member close: %w", err)
	}
	if err := settled(ctx, bootstrap, topic, 1); err != nil {
		return fmt.Errorf("after one member left: %w", err)
	}
	if err := produce(ctx, bootstrap, topic, driver.Expected(20, 90, driver.PastBase()), 0); err != nil {
		return err
	}
	if err := waitProcessed(ctx, seen, 180, b); err != nil {
		return err
	}
	seenMu.Lock()
	defer seenMu.Unlock()
	return driver.ExactlyOnce(seen, map[int32]int64{0: 60, 1: 60, 2: 60})
}

// committed fetches the group's committed offsets of every partition of topic.
func committed(ctx context.Context, cl *kafka.Client, topic string) (map[int]int64, error) {
	resp, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: groupOf(topic),
		Topics: map[string][]int{topic: {0, 1, 2}}})
	if err != nil {
		return nil, fmt.Errorf("offset fetch: %w", err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("offset fetch: %w", resp.Error)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("offset fetch partition %d: %w", p.Partition, p.Error)
		}
		out[p.Partition] = p.CommittedOffset
	}
	return out, nil
}

func groupLag(ctx context.Context, bootstrap, topic string) error {
	if err := produce(ctx, bootstrap, topic, driver.Expected(29, 90, driver.PastBase()), 0); err != nil {
		return err
	}
	cut := map[int]int64{0: 10, 1: 20, 2: 5}
	seen := map[[2]int64]int{}
	m := newMember(bootstrap, topic, seen, cut, kafka.RangeGroupBalancer{})
	if err := waitProcessed(ctx, seen, 35, m); err != nil {
		m.close()
		return err
	}
	if err := m.close(); err != nil {
		return err
	}
	cl := &kafka.Client{Addr: addr(bootstrap)}
	got, err := committed(ctx, cl, topic)
	if err != nil {
		return err
	}
	lo, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {
		kafka.LastOffsetOf(0), kafka.LastOffsetOf(1), kafka.LastOffsetOf(2)}}})
	if err != nil {
		return err
	}
	for _, po := range lo.Topics[topic] {
		p := po.Partition
		if po.Error != nil || got[p] != cut[p] || po.LastOffset-got[p] != 30-cut[p] {
			return fmt.Errorf("partition %d: committed %d end %d lag %d (%v), expected %d, 30, %d",
				p, got[p], po.LastOffset, po.LastOffset-got[p], po.Error, cut[p], 30-cut[p])
		}
	}
	return driver.Check(len(lo.Topics[topic]) == driver.Partitions, "%d partitions listed", len(lo.Topics[topic]))
}

func groupResetOffsets(ctx context.Context, bootstrap, topic string) error {
	base := driver.PastBase()
	if err := produce(ctx, bootstrap, topic, driver.Expected(31, 90, base), 0); err != nil {
		return err
	}
	all := map[[2]int64]int{}
	m := newMember(bootstrap, topic, all, nil, kafka.RangeGroupBalancer{})
	if err := waitProcessed(ctx, all, 90, m); err != nil {
		m.close()
		return err
	}
	if err := m.close(); err != nil {
		return err
	}
	cl := &kafka.Client{Addr: addr(bootstrap)}
	lo, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: {
		kafka.FirstOffsetOf(0), kafka.TimeOffsetOf(2, base.Add(50*time.Millisecond))}}})
	if err != nil {
		return err
	}
	var earliest, byTime int64 = -1, -1
	for _, po := range lo.Topics[topic] {
		switch po.Partition {
		case 0:
			earliest = po.FirstOffset
		case 2:
			byTime = offsetAt(po)
		}
	}
	// Partition 2 holds records 2, 5, 8...: record 50, its 17th (offset 16), is the first
	// with a timestamp >= base+50.
	if earliest != 0 || byTime != 16 {
		return fmt.Errorf("earliest %d, by timestamp %d, expected 0 and 16", earliest, byTime)
	}
	// A commit outside any generation (-1, no member id): the group has no members.
	resp, err := cl.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: groupOf(topic), GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{topic: {{Partition: 0, Offset: earliest},
			{Partition: 1, Offset: 12}, {Partition: 2, Offset: byTime}}}})
	if err != nil {
		return fmt.Errorf("offset commit: %w", err)
	}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return fmt.Errorf("offset commit partition %d: %w", p.Partition, p.Error)
		}
	}
	seen := map[[2]int64]int{}
	m = newMember(bootstrap, topic, seen, nil, kafka.RangeGroupBalancer{})
	defer m.close()
	if err := waitProcessed(ctx, seen, 30+18+14, m); err != nil {
		return err
	}
	seenMu.Lock()
	defer seenMu.Unlock()
	first := map[int64]int64{0: 30, 1: 30, 2: 30}
	for k := range seen {
		first[k[0]] = min(first[k[0]], k[1])
	}
	return driver.Check(first[0] == 0 && first[1] == 12 && first[2] == 16 && len(seen) == 62,
		"new member started at %v with %d records, expected 0, 12, 16 and 62", first, len(seen))
}
