package main

// Consumer-group scenarios (rebalance, static membership, cooperative, KIP-848, lag, reset) and
// the log-lifecycle admin ones (IncrementalAlterConfigs, DeleteRecords), mirroring the
// Python drivers' shared group scenarios in python/common.py.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupTimeout bounds how long a group may take to settle into what a scenario waits for.
const groupTimeout = 40 * time.Second

// at is where a record was read.
type at struct {
	partition int32
	offset    int64
}

// event is one rebalance callback: "assign" or "revoke" and its partitions.
type event struct {
	kind  string
	parts []int32
}

// member is a subscribed group member. Rebalances are blocked while a poll's records are
// processed and committed (BlockRebalanceOnPoll), so synchronous commits give exactly once.
type member struct {
	name       string
	topic      string
	cl         *kgo.Client
	seen       []at
	commitEach bool

	mu       sync.Mutex // callbacks run on franz-go's goroutines; held only to copy or append
	events   []event
	assigned map[int32]bool
}

func newMember(bootstrap, group, topic, name string, opts ...kgo.Opt) (*member, error) {
	m := &member{name: name, topic: topic, commitEach: true, assigned: map[int32]bool{}}
	record := func(kind string) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, _ *kgo.Client, parts map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.events = append(m.events, event{kind, parts[topic]})
			for _, p := range parts[topic] {
				if kind == "assign" {
					m.assigned[p] = true
				} else {
					delete(m.assigned, p)
				}
			}
		}
	}
	base := []kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(record("assign")), kgo.OnPartitionsRevoked(record("revoke")),
		kgo.OnPartitionsLost(record("revoke"))}
	cl, err := newClient(bootstrap, append(base, opts...)...)
	if err != nil {
		return nil, err
	}
	m.cl = cl
	return m, nil
}

// poll runs one short poll, processes (records) and, with commitEach, commits what came.
func (m *member) poll(ctx context.Context) error {
	defer m.cl.AllowRebalance()
	pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	fs := m.cl.PollRecords(pctx, 1000)
	for _, e := range fs.Errors() {
		if !errors.Is(e.Err, context.DeadlineExceeded) && !errors.Is(e.Err, context.Canceled) {
			return fmt.Errorf("%s: fetch %s/%d: %w", m.name, e.Topic, e.Partition, e.Err)
		}
	}
	recs := fs.Records()
	for _, r := range recs {
		m.seen = append(m.seen, at{r.Partition, r.Offset})
	}
	if len(recs) > 0 && m.commitEach {
		if err := m.cl.CommitRecords(ctx, recs...); err != nil {
			return fmt.Errorf("%s: commit: %w", m.name, err)
		}
	}
	return nil
}

func (m *member) parts() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.assigned {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (m *member) eventsSince(n int) []event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]event(nil), m.events[n:]...)
}

func (m *member) eventCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.events)
}

// pollUntil polls every member in turn until cond holds; fails naming what after the timeout.
func pollUntil(ctx context.Context, members []*member, what string, cond func() bool) error {
	deadline := time.Now().Add(groupTimeout)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			state := ""
			for _, m := range members {
				state += fmt.Sprintf("%s: assigned %v, %d processed; ", m.name, m.parts(), len(m.seen))
			}
			return fmt.Errorf("timed out waiting for %s (%s)", what, state)
		}
		for _, m := range members {
			if err := m.poll(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// settle polls until no member has seen a callback for a second: a cooperative rebalance ends
// with callbacks (an empty assign) that can come after the split itself is visible.
func settle(ctx context.Context, members []*member) error {
	count := func() int {
		n := 0
		for _, m := range members {
			n += m.eventCount()
		}
		return n
	}
	last, since := count(), time.Now()
	return pollUntil(ctx, members, "a second without rebalance callbacks", func() bool {
		if n := count(); n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) >= time.Second
	})
}

// splitEvenly: the members' assignments are non-empty, disjoint and cover every partition.
func splitEvenly(members ...*member) bool {
	union, total := map[int32]bool{}, 0
	for _, m := range members {
		ps := m.parts()
		if len(ps) == 0 {
			return false
		}
		total += len(ps)
		for _, p := range ps {
			union[p] = true
		}
	}
	return total == len(union) && len(union) == partitions
}

func exactlyOnce(seen []at, want int) error {
	distinct := map[at]bool{}
	for _, a := range seen {
		distinct[a] = true
	}
	return check(len(seen) == want && len(distinct) == want,
		"%d records processed, %d distinct, expected %d exactly once", len(seen), len(distinct), want)
}

func produceN(ctx context.Context, bootstrap, topic string, seed int64, n int) error {
	return produceAll(ctx, bootstrap, topic, expected(seed, n, pastBase()))
}

func groupRebalance(ctx context.Context, bootstrap, topic string) error {
	group := "compat-" + topic
	if err := produceN(ctx, bootstrap, topic, 31, 45); err != nil {
		return err
	}
	a, err := newMember(bootstrap, group, topic, "member A")
	if err != nil {
		return err
	}
	defer a.cl.Close()
	if err := pollUntil(ctx, []*member{a}, "member A to process the first 45", func() bool { return len(a.seen) >= 45 }); err != nil {
		return err
	}
	b, err := newMember(bootstrap, group, topic, "member B")
	if err != nil {
		return err
	}
	defer b.cl.Close()
	if err := pollUntil(ctx, []*member{a, b}, "a disjoint split", func() bool { return splitEvenly(a, b) }); err != nil {
		return err
	}
	type mark struct {
		n     int
		parts []int32
	}
	before := map[*member]mark{a: {len(a.seen), a.parts()}, b: {len(b.seen), b.parts()}}
	if err := produceN(ctx, bootstrap, topic, 32, 45); err != nil {
		return err
	}
	if err := pollUntil(ctx, []*member{a, b}, "90 records", func() bool { return len(a.seen)+len(b.seen) >= 90 }); err != nil {
		return err
	}
	for m, mk := range before {
		owned := map[int32]bool{}
		for _, p := range mk.parts {
			owned[p] = true
		}
		for _, r := range m.seen[mk.n:] {
			if !owned[r.partition] {
				return fmt.Errorf("%s (assigned %v) processed partition %d", m.name, mk.parts, r.partition)
			}
		}
	}
	a.cl.Close() // leaves the group
	if err := pollUntil(ctx, []*member{b}, "member B to own every partition", func() bool { return len(b.parts()) == partitions }); err != nil {
		return err
	}
	if err := produceN(ctx, bootstrap, topic, 33, 30); err != nil {
		return err
	}
	if err := pollUntil(ctx, []*member{b}, "120 records in all", func() bool { return len(a.seen)+len(b.seen) >= 120 }); err != nil {
		return err
	}
	return exactlyOnce(append(append([]at(nil), a.seen...), b.seen...), 120)
}

func staticMembership(ctx context.Context, bootstrap, topic string) error {
	group := "compat-" + topic
	if err := produceN(ctx, bootstrap, topic, 34, 30); err != nil {
		return err
	}
	static := func(name, id string) (*member, error) {
		return newMember(bootstrap, group, topic, name, kgo.InstanceID(id), kgo.SessionTimeout(30*time.Second))
	}
	// b joins first and so leads; a, the member that restarts, is a follower. A restarted
	// franz-go leader recomputes the plan from the members' last JoinGroup metadata and rejoins
	// when its own share differs from the one the broker hands back (KIP-814's limit, see
	// franz-go's consumer_group.go); after a cooperative two-round rebalance that metadata is
	// stale, so the restart of a leader rebalances on Apache Kafka too.
	b, err := static("static member b", "b")
	if err != nil {
		return err
	}
	defer b.cl.Close()
	if err := pollUntil(ctx, []*member{b}, "b to own every partition", func() bool { return len(b.parts()) == partitions }); err != nil {
		return err
	}
	a, err := static("static member a", "a")
	if err != nil {
		return err
	}
	if err := pollUntil(ctx, []*member{a, b}, "a disjoint split between a and b", func() bool { return splitEvenly(a, b) }); err != nil {
		a.cl.Close()
		return err
	}
	if err := settle(ctx, []*member{a, b}); err != nil {
		a.cl.Close()
		return err
	}
	aParts, bEvents := a.parts(), b.eventCount()
	a.cl.Close() // a static member's close sends no LeaveGroup
	a2, err := static("restarted a", "a")
	if err != nil {
		return err
	}
	defer a2.cl.Close()
	if err := pollUntil(ctx, []*member{a2, b}, "the restarted member's assignment", func() bool { return len(a2.parts()) > 0 }); err != nil {
		return err
	}
	// Keep polling a moment: a rebalance, if one was started, would reach b now.
	quiet := time.Now().Add(time.Second)
	if err := pollUntil(ctx, []*member{a2, b}, "a quiet second", func() bool { return time.Now().After(quiet) }); err != nil {
		return err
	}
	if got := a2.parts(); fmt.Sprint(got) != fmt.Sprint(aParts) {
		return fmt.Errorf("restarted member got %v, had %v", got, aParts)
	}
	return check(b.eventCount() == bEvents, "the other member saw a rebalance: %v", b.eventsSince(bEvents))
}

func cooperativeRebalance(ctx context.Context, bootstrap, topic string) error {
	group := "compat-" + topic
	coop := kgo.Balancers(kgo.CooperativeStickyBalancer())
	if err := produceN(ctx, bootstrap, topic, 35, 30); err != nil {
		return err
	}
	a, err := newMember(bootstrap, group, topic, "member A", coop)
	if err != nil {
		return err
	}
	defer a.cl.Close()
	if err := pollUntil(ctx, []*member{a}, "member A to process the first 30", func() bool { return len(a.seen) >= 30 }); err != nil {
		return err
	}
	mark := a.eventCount()
	b, err := newMember(bootstrap, group, topic, "member B", coop)
	if err != nil {
		return err
	}
	defer b.cl.Close()
	if err := pollUntil(ctx, []*member{a, b}, "a disjoint split between A and B", func() bool { return splitEvenly(a, b) }); err != nil {
		return err
	}
	kept, moved := a.parts(), b.parts()
	revoked := map[int32]bool{}
	for _, e := range a.eventsSince(mark) {
		if e.kind == "revoke" {
			for _, p := range e.parts {
				revoked[p] = true
			}
		}
	}
	movedSet := map[int32]bool{}
	for _, p := range moved {
		movedSet[p] = true
	}
	if fmt.Sprint(revoked) != fmt.Sprint(movedSet) {
		return fmt.Errorf("member A had %v revoked but %v moved (events %v)", revoked, moved, a.eventsSince(mark))
	}
	n := len(a.seen)
	if err := produceN(ctx, bootstrap, topic, 36, 30); err != nil {
		return err
	}
	if err := pollUntil(ctx, []*member{a, b}, "the 30 later records", func() bool { return len(a.seen)+len(b.seen) >= 60 }); err != nil {
		return err
	}
	later := map[int32]bool{}
	for _, r := range a.seen[n:] {
		later[r.partition] = true
	}
	keptSet := map[int32]bool{}
	for _, p := range kept {
		keptSet[p] = true
	}
	if fmt.Sprint(later) != fmt.Sprint(keptSet) {
		return fmt.Errorf("member A kept %v but then read from %v", kept, later)
	}
	return exactlyOnce(append(append([]at(nil), a.seen...), b.seen...), 60)
}

func consumerProtocolGroup(ctx context.Context, bootstrap, topic string) error {
	group := "compat-" + topic
	kip848 := []kgo.Opt{kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer())}
	if err := metadataAutocreate(ctx, bootstrap, topic); err != nil {
		return err
	}
	// franz-go silently falls back to the classic protocol when the broker does not serve
	// ConsumerGroupHeartbeat; that would not test KIP-848 at all.
	if err := withAdmin(bootstrap, func(cl *kgo.Client, _ *kadm.Client) error {
		resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		for _, k := range resp.ApiKeys {
			if k.ApiKey == kmsg.ConsumerGroupHeartbeat.Int16() {
				return nil
			}
		}
		return errors.New("the broker does not advertise ConsumerGroupHeartbeat (KIP-848)")
	}); err != nil {
		return err
	}
	a, err := newMember(bootstrap, group, topic, "member A", kip848...)
	if err != nil {
		return err
	}
	defer a.cl.Close()
	b, err := newMember(bootstrap, group, topic, "member B", kip848...)
	if err != nil {
		return err
	}
	defer b.cl.Close()
	if err := pollUntil(ctx, []*member{a, b}, "a disjoint split between A and B", func() bool { return splitEvenly(a, b) }); err != nil {
		return err
	}
	if err := produceN(ctx, bootstrap, topic, 37, 90); err != nil {
		return err
	}
	if err := pollUntil(ctx, []*member{a, b}, "90 records", func() bool { return len(a.seen)+len(b.seen) >= 90 }); err != nil {
		return err
	}
	a.cl.Close()
	b.cl.Close()
	seen := append(append([]at(nil), a.seen...), b.seen...)
	if err := exactlyOnce(seen, 90); err != nil {
		return err
	}
	if err := produceN(ctx, bootstrap, topic, 38, 30); err != nil {
		return err
	}
	c, err := newMember(bootstrap, group, topic, "member C", kip848...)
	if err != nil {
		return err
	}
	defer c.cl.Close()
	if err := pollUntil(ctx, []*member{c}, "the 30 records after the commits", func() bool { return len(c.seen) >= 30 }); err != nil {
		return err
	}
	for _, r := range c.seen {
		if r.offset < 30 {
			return fmt.Errorf("the new member re-read committed record %v", r)
		}
	}
	return exactlyOnce(append(seen, c.seen...), 120)
}

// committedOffsets is the group's committed offset per partition (OffsetFetch).
func committedOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p, r := range resp[topic] {
		if r.Err != nil {
			return nil, fmt.Errorf("OffsetFetch partition %d: %w", p, r.Err)
		}
		out[p] = r.At
	}
	return out, nil
}

func groupLag(ctx context.Context, bootstrap, topic string) error {
	group := "compat-" + topic
	if err := produceN(ctx, bootstrap, topic, 39, 90); err != nil {
		return err
	}
	m, err := newMember(bootstrap, group, topic, "member")
	if err != nil {
		return err
	}
	m.commitEach = false
	if err := pollUntil(ctx, []*member{m}, "all 90 records", func() bool { return len(m.seen) >= 90 }); err != nil {
		m.cl.Close()
		return err
	}
	want := map[int32]int64{0: 10, 1: 20, 2: 30}
	commit := map[string]map[int32]kgo.EpochOffset{topic: {}}
	for p, o := range want {
		commit[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	var commitErr error
	m.cl.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		commitErr = firstCommitErr(resp, err)
	})
	m.cl.Close()
	if commitErr != nil {
		return fmt.Errorf("commit: %w", commitErr)
	}
	return withAdmin(bootstrap, func(_ *kgo.Client, adm *kadm.Client) error {
		got, err := committedOffsets(ctx, adm, group, topic)
		if err != nil {
			return err
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("committed %v, expected %v", got, want)
		}
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return err
		}
		lag := map[int32]int64{}
		for p, o := range got {
			end, ok := ends.Lookup(topic, p)
			if !ok || end.Err != nil {
				return fmt.Errorf("end offset of partition %d: %v", p, end.Err)
			}
			lag[p] = end.Offset - o
		}
		return check(fmt.Sprint(lag) == fmt.Sprint(map[int32]int64{0: 20, 1: 10, 2: 0}),
			"lag %v, expected 20, 10, 0", lag)
	})
}

func groupResetOffsets(ctx context.Context, bootstrap, topic string) error {
	group := "compat-" + topic
	base := pastBase()
	if err := produceAll(ctx, bootstrap, topic, expected(40, 90, base)); err != nil {
		return err
	}
	m, err := newMember(bootstrap, group, topic, "first member")
	if err != nil {
		return err
	}
	err = pollUntil(ctx, []*member{m}, "all 90 records", func() bool { return len(m.seen) >= 90 })
	m.cl.Close()
	if err != nil {
		return err
	}
	reset := map[int32]int64{}
	err = withAdmin(bootstrap, func(_ *kgo.Client, adm *kadm.Client) error {
		starts, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			return err
		}
		// Record i has timestamp base+i ms; partition 2 holds records 2, 5, 8...: base+50 is
		// first reached by record 50 (offset 16).
		byTime, err := adm.ListOffsetsAfterMilli(ctx, base.UnixMilli()+50, topic)
		if err != nil {
			return err
		}
		s, _ := starts.Lookup(topic, 0)
		t, _ := byTime.Lookup(topic, 2)
		if s.Err != nil || t.Err != nil || t.Offset != 16 {
			return fmt.Errorf("earliest %v (%v), by time %d (%v), expected by time 16", s.Offset, s.Err, t.Offset, t.Err)
		}
		reset = map[int32]int64{0: s.Offset, 1: 7, 2: t.Offset}
		var os kadm.Offsets
		for p, o := range reset {
			os.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1})
		}
		resp, err := adm.CommitOffsets(ctx, group, os)
		if err != nil {
			return err
		}
		return resp.Error()
	})
	if err != nil {
		return err
	}
	n, err := newMember(bootstrap, group, topic, "new member")
	if err != nil {
		return err
	}
	defer n.cl.Close()
	want := 0
	for _, o := range reset {
		want += int(30 - o)
	}
	if err := pollUntil(ctx, []*member{n}, "the records after the reset positions", func() bool { return len(n.seen) >= want }); err != nil {
		return err
	}
	first := map[int32]int64{}
	for _, r := range n.seen {
		if _, ok := first[r.partition]; !ok {
			first[r.partition] = r.offset
		}
	}
	if fmt.Sprint(first) != fmt.Sprint(reset) {
		return fmt.Errorf("new member started at %v, expected %v", first, reset)
	}
	return exactlyOnce(n.seen, want)
}

func alterConfigs(ctx context.Context, bootstrap, topic string) error {
	return withAdmin(bootstrap, func(_ *kgo.Client, adm *kadm.Client) error {
		if r, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil || r.Err != nil {
			return fmt.Errorf("create: %v %v", err, r.Err)
		}
		alter := func(cs ...kadm.AlterConfig) error {
			resp, err := adm.AlterTopicConfigs(ctx, cs, topic)
			if err != nil {
				return err
			}
			for _, r := range resp {
				if r.Err != nil {
					return r.Err
				}
			}
			return nil
		}
		describe := func() (map[string]kadm.Config, error) {
			rcs, err := adm.DescribeTopicConfigs(ctx, topic)
			if err != nil {
				return nil, err
			}
			rc, err := rcs.On(topic, nil)
			if err != nil || rc.Err != nil {
				return nil, fmt.Errorf("describe: %v %v", err, rc.Err)
			}
			out := map[string]kadm.Config{}
			for _, c := range rc.Configs {
				out[c.Key] = c
			}
			return out, nil
		}
		set := func(k, v string) kadm.AlterConfig { return kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v} }
		if err := waitFor(ctx, func() error { return alter(set("retention.ms", "7200000"), set("cleanup.policy", "compact")) }); err != nil {
			return fmt.Errorf("SET: %w", err)
		}
		cfg, err := describe()
		if err != nil {
			return err
		}
		for k, v := range map[string]string{"retention.ms": "7200000", "cleanup.policy": "compact"} {
			if c := cfg[k]; c.MaybeValue() != v || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
				return fmt.Errorf("after SET: %s = %q source %v", k, c.MaybeValue(), c.Source)
			}
		}
		if err := alter(kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"}); err != nil {
			return fmt.Errorf("DELETE: %w", err)
		}
		if cfg, err = describe(); err != nil {
			return err
		}
		if c := cfg["retention.ms"]; c.MaybeValue() != "604800000" || c.Source != kmsg.ConfigSourceDefaultConfig {
			return fmt.Errorf("after DELETE: retention.ms = %q source %v", c.MaybeValue(), c.Source)
		}
		err = alter(set("retention.ms", "not-a-number"))
		return check(errors.Is(err, kerr.InvalidConfig), "invalid value: %v, expected INVALID_CONFIG", err)
	})
}

func deleteRecords(ctx context.Context, bootstrap, topic string) error {
	if err := produceN(ctx, bootstrap, topic, 41, 90); err != nil {
		return err
	}
	err := withAdmin(bootstrap, func(_ *kgo.Client, adm *kadm.Client) error {
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 10, LeaderEpoch: -1})
		resp, err := adm.DeleteRecords(ctx, os)
		if err != nil {
			return err
		}
		r, ok := resp.Lookup(topic, 0)
		if !ok || r.Err != nil || r.LowWatermark != 10 {
			return fmt.Errorf("DeleteRecords: low watermark %d, %v, expected 10", r.LowWatermark, r.Err)
		}
		starts, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			return err
		}
		s, _ := starts.Lookup(topic, 0)
		return check(s.Err == nil && s.Offset == 10, "earliest offset %d (%v), expected 10", s.Offset, s.Err)
	})
	if err != nil {
		return err
	}
	cl, err := newClient(bootstrap, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		return err
	}
	defer cl.Close()
	got, err := drain(ctx, cl, 20, 30*time.Second)
	if err != nil {
		return err
	}
	var offs []int64
	for _, r := range got {
		offs = append(offs, r.Offset)
	}
	return check(len(offs) == 20 && offs[0] == 10 && offs[19] == 29, "from earliest read offsets %v, expected 10..29", offs)
}

// firstCommitErr is the request error or the first partition error of an OffsetCommit.
func firstCommitErr(resp *kmsg.OffsetCommitResponse, err error) error {
	if err != nil || resp == nil {
		return err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("partition %d: %w", p.Partition, err)
			}
		}
	}
	return nil
}
