package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"compatgoclients/internal/driver"

	"github.com/IBM/sarama"
)

// member is one consumer-group member running sarama's ConsumerGroup.Consume loop in the
// background. Every record it processes is counted in seen; its offsets are committed
// synchronously (session.Commit) once the records already fetched are processed, and when a
// claim ends, so a rebalance never loses or repeats a processed record. With a cut, records
// at or past cut[partition] are neither counted nor committed, and every record is committed.
type member struct {
	group  sarama.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
	cut    map[int32]int64

	seen map[[2]int64]int // shared by the members of a scenario, guarded by sharedMu

	mu       sync.Mutex                  // short sections only; the handler goroutines share the fields below
	session  sarama.ConsumerGroupSession // the current one; its claims change in cooperative rebalances
	sessions int                         // Setup calls
	ended    []int32                     // partitions whose ConsumeClaim returned, in order
	errs     []error
}

// newMember joins groupID on topic with cfg (offsets from the start, manual commits).
func newMember(bootstrap, groupID, topic string, cfg *sarama.Config, seen map[[2]int64]int,
	cut map[int32]int64) (*member, error) {
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	// Commits share the coordinator connection with fetches: a shorter long poll keeps a
	// commit from waiting behind a fetch for sarama's default 500 ms.
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	g, err := sarama.NewConsumerGroup([]string{bootstrap}, groupID, cfg)
	if err != nil {
		return nil, fmt.Errorf("consumer group: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{group: g, cancel: cancel, done: make(chan struct{}), seen: seen, cut: cut}
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{topic}, m); err != nil && ctx.Err() == nil {
				m.mu.Lock()
				m.errs = append(m.errs, err)
				m.mu.Unlock()
				return
			}
		}
	}()
	go func() {
		for err := range g.Errors() {
			m.mu.Lock()
			m.errs = append(m.errs, err)
			m.mu.Unlock()
		}
	}()
	return m, nil
}

// Setup implements sarama.ConsumerGroupHandler.
func (m *member) Setup(s sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions++
	m.session = s
	return nil
}

// Cleanup implements sarama.ConsumerGroupHandler.
func (m *member) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim implements sarama.ConsumerGroupHandler: process, then commit synchronously.
func (m *member) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	p := c.Partition()
	defer func() {
		m.mu.Lock()
		m.ended = append(m.ended, p)
		m.mu.Unlock()
	}()
	for msg := range c.Messages() {
		if cut, hasCut := m.cut[p]; hasCut && msg.Offset >= cut {
			continue
		}
		sharedMu.Lock()
		m.seen[[2]int64{int64(p), msg.Offset}]++
		sharedMu.Unlock()
		s.MarkOffset(msg.Topic, p, msg.Offset+1, "")
		// Commit synchronously once the records already fetched are processed, before
		// waiting for more; a member with a cut commits every record.
		if len(c.Messages()) == 0 || m.cut != nil {
			s.Commit()
		}
	}
	// The claim was revoked or the session ends: commit what was processed before letting go.
	s.Commit()
	return nil
}

// sharedMu guards the seen maps the members of a scenario share; held only to count one record.
var sharedMu sync.Mutex

// state returns the member's claims, generation and Setup count.
func (m *member) state() ([]int32, int32, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.session == nil {
		return nil, -1, 0
	}
	var claims []int32
	for _, ps := range m.session.Claims() {
		claims = append(claims, ps...)
	}
	slices.Sort(claims)
	return claims, m.session.GenerationID(), m.sessions
}

// err returns the first error the member met.
func (m *member) err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.errs) > 0 {
		return m.errs[0]
	}
	return nil
}

// close stops consuming and closes the group (a dynamic member leaves it) within 20 s.
func (m *member) close() error {
	m.cancel()
	err := m.group.Close()
	select {
	case <-m.done:
	case <-time.After(20 * time.Second):
		return fmt.Errorf("member did not stop within 20 s")
	}
	return err
}

// processed counts the records in seen.
func processed(seen map[[2]int64]int) int {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	n := 0
	for _, c := range seen {
		n += c
	}
	return n
}

// waitProcessed waits until the members processed want records in all.
func waitProcessed(ctx context.Context, seen map[[2]int64]int, want int, ms ...*member) error {
	return driver.WaitFor(ctx, fmt.Sprintf("%d records processed", want), 30*time.Second, func() error {
		for _, m := range ms {
			if err := m.err(); err != nil {
				return fmt.Errorf("member error: %w", err)
			}
		}
		n := processed(seen)
		return driver.Check(n >= want, "%d processed", n)
	})
}

// fullOnce checks every one of perPartition records of each partition was processed once.
func fullOnce(seen map[[2]int64]int, perPartition int64) error {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	end := map[int32]int64{}
	for p := int32(0); p < driver.Partitions; p++ {
		end[p] = perPartition
	}
	return driver.ExactlyOnce(seen, end)
}
