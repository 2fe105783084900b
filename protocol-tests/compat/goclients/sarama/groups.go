package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"compatgoclients/internal/driver"

	"github.com/IBM/sarama"
)

// groupOf is the group id of a scenario's topic.
func groupOf(topic string) string { return "compat-" + topic }

func groupResume(ctx context.Context, bootstrap, topic string) error {
	if err := produce(bootstrap, topic, driver.Expected(17, 90, driver.PastBase()), config()); err != nil {
		return err
	}
	first := map[[2]int64]int{}
	half := map[int32]int64{0: 15, 1: 15, 2: 15}
	m, err := newMember(bootstrap, groupOf(topic), topic, config(), first, half)
	if err != nil {
		return err
	}
	if err := waitProcessed(ctx, first, 45, m); err != nil {
		m.close()
		return fmt.Errorf("first member: %w", err)
	}
	if err := m.close(); err != nil {
		return fmt.Errorf("first member close: %w", err)
	}
	rest := map[[2]int64]int{}
	m, err = newMember(bootstrap, groupOf(topic), topic, config(), rest, nil)
	if err != nil {
		return err
	}
	defer m.close()
	if err := waitProcessed(ctx, rest, 45, m); err != nil {
		return fmt.Errorf("resumed member: %w", err)
	}
	for k, n := range rest {
		if k[1] < 15 || n != 1 {
			return fmt.Errorf("resumed member processed partition %d offset %d %d times", k[0], k[1], n)
		}
	}
	return nil
}

// settled waits until ms hold disjoint, non-empty claims of one generation covering every
// partition; it returns each member's claims.
func settled(ctx context.Context, ms ...*member) ([][]int32, int32, error) {
	var claims [][]int32
	var gen int32
	err := driver.WaitFor(ctx, "disjoint assignments covering every partition", 30*time.Second, func() error {
		claims, gen = nil, -1
		var all []int32
		for i, m := range ms {
			if err := m.err(); err != nil {
				return fmt.Errorf("member %d: %w", i, err)
			}
			c, g, _ := m.state()
			if len(c) == 0 || (gen != -1 && g != gen) {
				return fmt.Errorf("member %d: claims %v generation %d", i, c, g)
			}
			gen = g
			claims = append(claims, c)
			all = append(all, c...)
		}
		slices.Sort(all)
		return driver.Check(slices.Equal(all, []int32{0, 1, 2}), "claims %v", claims)
	})
	return claims, gen, err
}

func groupRebalance(ctx context.Context, bootstrap, topic string) error {
	if err := produce(bootstrap, topic, driver.Expected(19, 90, driver.PastBase()), config()); err != nil {
		return err
	}
	seen := map[[2]int64]int{}
	cfg := func() *sarama.Config {
		c := config()
		c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRoundRobin()}
		return c
	}
	a, err := newMember(bootstrap, groupOf(topic), topic, cfg(), seen, nil)
	if err != nil {
		return err
	}
	defer a.close()
	b, err := newMember(bootstrap, groupOf(topic), topic, cfg(), seen, nil)
	if err != nil {
		return err
	}
	defer b.close()
	if _, _, err := settled(ctx, a, b); err != nil {
		return fmt.Errorf("two members: %w", err)
	}
	if err := waitProcessed(ctx, seen, 90, a, b); err != nil {
		return err
	}
	if err := a.close(); err != nil {
		return fmt.Errorf("first member close: %w", err)
	}
	if _, _, err := settled(ctx, b); err != nil {
		return fmt.Errorf("after one member left: %w", err)
	}
	if err := produce(bootstrap, topic, driver.Expected(20, 90, driver.PastBase()), config()); err != nil {
		return err
	}
	if err := waitProcessed(ctx, seen, 180, b); err != nil {
		return err
	}
	return fullOnce(seen, 60)
}

func staticMembership(ctx context.Context, bootstrap, topic string) error {
	seen := map[[2]int64]int{}
	cfg := func(instance string) *sarama.Config {
		c := config()
		c.Consumer.Group.InstanceId = instance + "-" + topic
		c.Consumer.Group.Session.Timeout = 20 * time.Second
		c.Consumer.Group.Heartbeat.Interval = time.Second
		c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategySticky()}
		return c
	}
	// b first, so the member that restarts (a) is not the group leader.
	b, err := newMember(bootstrap, groupOf(topic), topic, cfg("b"), seen, nil)
	if err != nil {
		return err
	}
	defer b.close()
	if _, _, err := settled(ctx, b); err != nil {
		return fmt.Errorf("first static member: %w", err)
	}
	a, err := newMember(bootstrap, groupOf(topic), topic, cfg("a"), seen, nil)
	if err != nil {
		return err
	}
	claims, gen, err := settled(ctx, b, a)
	if err != nil {
		a.close()
		return fmt.Errorf("two static members: %w", err)
	}
	_, _, bSessions := b.state()
	// A static member's Close sends no LeaveGroup: the group keeps its assignment.
	if err := a.close(); err != nil {
		return fmt.Errorf("static member close: %w", err)
	}
	a, err = newMember(bootstrap, groupOf(topic), topic, cfg("a"), seen, nil)
	if err != nil {
		return err
	}
	defer a.close()
	again, gen2, err := settled(ctx, b, a)
	if err != nil {
		return fmt.Errorf("after the static member restarted: %w", err)
	}
	_, _, bSessions2 := b.state()
	switch {
	case !slices.Equal(again[1], claims[1]):
		return fmt.Errorf("restarted member got %v, had %v", again[1], claims[1])
	case gen2 != gen:
		return fmt.Errorf("generation went from %d to %d", gen, gen2)
	}
	return driver.Check(bSessions2 == bSessions, "the other member was rebalanced (%d sessions, then %d)", bSessions, bSessions2)
}

func cooperativeRebalance(ctx context.Context, bootstrap, topic string) error {
	if err := produce(bootstrap, topic, driver.Expected(23, 90, driver.PastBase()), config()); err != nil {
		return err
	}
	seen := map[[2]int64]int{}
	cfg := func() *sarama.Config {
		c := config()
		c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyCooperativeSticky()}
		return c
	}
	a, err := newMember(bootstrap, groupOf(topic), topic, cfg(), seen, nil)
	if err != nil {
		return err
	}
	defer a.close()
	if _, _, err := settled(ctx, a); err != nil {
		return fmt.Errorf("first member: %w", err)
	}
	if err := waitProcessed(ctx, seen, 90, a); err != nil {
		return err
	}
	b, err := newMember(bootstrap, groupOf(topic), topic, cfg(), seen, nil)
	if err != nil {
		return err
	}
	defer b.close()
	claims, _, err := settled(ctx, a, b)
	if err != nil {
		return fmt.Errorf("after the second member joined: %w", err)
	}
	a.mu.Lock()
	ended, sessions := slices.Clone(a.ended), a.sessions
	a.mu.Unlock()
	// Only the partitions that moved to b were revoked from a; a's other claims ran on.
	slices.Sort(ended)
	if !slices.Equal(ended, claims[1]) || sessions != 1 {
		return fmt.Errorf("first member had %v revoked in %d sessions; %v moved", ended, sessions, claims[1])
	}
	if err := produce(bootstrap, topic, driver.Expected(24, 90, driver.PastBase()), config()); err != nil {
		return err
	}
	if err := waitProcessed(ctx, seen, 180, a, b); err != nil {
		return err
	}
	return fullOnce(seen, 60)
}

func groupLag(ctx context.Context, bootstrap, topic string) error {
	if err := produce(bootstrap, topic, driver.Expected(29, 90, driver.PastBase()), config()); err != nil {
		return err
	}
	cut := map[int32]int64{0: 10, 1: 20, 2: 5}
	m, err := newMember(bootstrap, groupOf(topic), topic, config(), map[[2]int64]int{}, cut)
	if err != nil {
		return err
	}
	if err := waitProcessed(ctx, m.seen, 35, m); err != nil {
		m.close()
		return err
	}
	if err := m.close(); err != nil {
		return err
	}
	return withAdmin(bootstrap, func(cl sarama.Client, adm sarama.ClusterAdmin) error {
		committed, err := adm.ListConsumerGroupOffsets(groupOf(topic), map[string][]int32{topic: {0, 1, 2}})
		if err != nil {
			return fmt.Errorf("offset fetch: %w", err)
		}
		for p := int32(0); p < driver.Partitions; p++ {
			blk := committed.GetBlock(topic, p)
			end, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
			if blk == nil || !errors.Is(blk.Err, sarama.ErrNoError) || err != nil {
				return fmt.Errorf("partition %d: committed %v, end offset error %v", p, blk, err)
			}
			if blk.Offset != cut[p] || end-blk.Offset != 30-cut[p] {
				return fmt.Errorf("partition %d: committed %d end %d lag %d, expected %d, 30, %d",
					p, blk.Offset, end, end-blk.Offset, cut[p], 30-cut[p])
			}
		}
		return nil
	})
}

func groupResetOffsets(ctx context.Context, bootstrap, topic string) error {
	base := driver.PastBase()
	if err := produce(bootstrap, topic, driver.Expected(31, 90, base), config()); err != nil {
		return err
	}
	m, err := newMember(bootstrap, groupOf(topic), topic, config(), map[[2]int64]int{}, nil)
	if err != nil {
		return err
	}
	if err := waitProcessed(ctx, m.seen, 90, m); err != nil {
		m.close()
		return err
	}
	if err := m.close(); err != nil {
		return err
	}
	err = withAdmin(bootstrap, func(cl sarama.Client, adm sarama.ClusterAdmin) error {
		// Partition 2 holds records 2, 5, 8...: record 50, its 17th (offset 16), is the first
		// with a timestamp >= base+50.
		byTime, err := cl.GetOffset(topic, 2, base.UnixMilli()+50)
		if err != nil || byTime != 16 {
			return fmt.Errorf("offset by timestamp %d (%v), expected 16", byTime, err)
		}
		earliest, err := cl.GetOffset(topic, 0, sarama.OffsetOldest)
		if err != nil {
			return err
		}
		resp, err := adm.AlterConsumerGroupOffsets(groupOf(topic), map[string]map[int32]sarama.OffsetAndMetadata{
			topic: {0: {Offset: earliest, LeaderEpoch: -1}, 1: {Offset: 12, LeaderEpoch: -1}, 2: {Offset: byTime, LeaderEpoch: -1}},
		}, nil)
		if err != nil {
			return fmt.Errorf("alter offsets: %w", err)
		}
		for p, e := range resp.Errors[topic] {
			if !errors.Is(e, sarama.ErrNoError) {
				return fmt.Errorf("alter offsets partition %d: %w", p, e)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	seen := map[[2]int64]int{}
	m, err = newMember(bootstrap, groupOf(topic), topic, config(), seen, nil)
	if err != nil {
		return err
	}
	defer m.close()
	if err := waitProcessed(ctx, seen, 30+18+14, m); err != nil {
		return err
	}
	first := map[int64]int64{0: 30, 1: 30, 2: 30}
	for k := range seen {
		first[k[0]] = min(first[k[0]], k[1])
	}
	return driver.Check(first[0] == 0 && first[1] == 12 && first[2] == 16 && len(seen) == 62,
		"new member started at %v with %d records, expected 0, 12, 16 and 62", first, len(seen))
}

func alterConfigs(ctx context.Context, bootstrap, topic string) error {
	return withAdmin(bootstrap, func(_ sarama.Client, adm sarama.ClusterAdmin) error {
		if err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
			return fmt.Errorf("create: %w", err)
		}
		if _, err := topicConfigs(ctx, adm, topic); err != nil {
			return err
		}
		set := func(v string) sarama.IncrementalAlterConfigsEntry {
			return sarama.IncrementalAlterConfigsEntry{Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &v}
		}
		err := adm.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
			"retention.ms": set("7200000"), "cleanup.policy": set("compact")}, false)
		if err != nil {
			return fmt.Errorf("SET: %w", err)
		}
		// A broker applies config changes through its metadata log: describe until they show.
		shows := func(what string, ok func(rm, cp sarama.ConfigEntry) bool) error {
			return driver.WaitFor(ctx, what, 10*time.Second, func() error {
				found, err := topicConfigs(ctx, adm, topic)
				if err != nil {
					return err
				}
				rm, cp := found["retention.ms"], found["cleanup.policy"]
				return driver.Check(ok(rm, cp), "retention.ms %q (%v), cleanup.policy %q (%v)",
					rm.Value, rm.Source, cp.Value, cp.Source)
			})
		}
		err = shows("retention.ms=7200000 and cleanup.policy=compact as topic overrides", func(rm, cp sarama.ConfigEntry) bool {
			return rm.Value == "7200000" && rm.Source == sarama.SourceTopic && cp.Value == "compact" && cp.Source == sarama.SourceTopic
		})
		if err != nil {
			return err
		}
		err = adm.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
			"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationDelete}}, false)
		if err != nil {
			return fmt.Errorf("DELETE: %w", err)
		}
		err = shows("retention.ms back to its default, cleanup.policy=compact", func(rm, cp sarama.ConfigEntry) bool {
			return rm.Value == "604800000" && rm.Source == sarama.SourceDefault && cp.Value == "compact"
		})
		if err != nil {
			return err
		}
		err = adm.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
			"retention.ms": set("not-a-number")}, false)
		return driver.Check(errors.Is(err, sarama.ErrInvalidConfig), "invalid value: %v, expected INVALID_CONFIG", err)
	})
}

func deleteRecords(ctx context.Context, bootstrap, topic string) error {
	if err := produce(bootstrap, topic, driver.Expected(37, 90, driver.PastBase()), config()); err != nil {
		return err
	}
	err := withAdmin(bootstrap, func(cl sarama.Client, adm sarama.ClusterAdmin) error {
		if err := adm.DeleteRecords(topic, map[int32]int64{0: 10, 1: 20}); err != nil {
			return fmt.Errorf("delete records: %w", err)
		}
		for p, want := range map[int32]int64{0: 10, 1: 20, 2: 0} {
			if o, err := cl.GetOffset(topic, p, sarama.OffsetOldest); err != nil || o != want {
				return fmt.Errorf("partition %d earliest %d (%v), expected %d", p, o, err, want)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	got, err := consumeFrom(ctx, bootstrap, topic, sarama.OffsetOldest, 20+10+30, 30*time.Second)
	if err != nil {
		return err
	}
	first := map[int32]int64{0: 30, 1: 30, 2: 30}
	for _, r := range got {
		first[r.Partition] = min(first[r.Partition], r.Offset)
	}
	return driver.Check(len(got) == 60 && first[0] == 10 && first[1] == 20 && first[2] == 0,
		"consumer from earliest: %d records starting at %v, expected 60 from 10, 20, 0", len(got), first)
}
