package compat;

import static compat.Clients.admin;
import static compat.Clients.committed;
import static compat.Clients.expected;
import static compat.Clients.partitions;
import static compat.Clients.produceAll;
import static compat.Driver.PARTITIONS;
import static compat.Driver.WAIT;
import static compat.Driver.check;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;

/** Consumer-group scenarios of the `java` client (classic protocol unless said otherwise). */
final class GroupScenarios {
    private static final Set<Integer> ALL = Set.of(0, 1, 2);

    private GroupScenarios() {}

    /** Polls every member in turn until `cond` holds; fails with `what` after 30 s. */
    static void pollUntil(List<Member> members, String what, BooleanSupplier cond) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!cond.getAsBoolean()) {
            check(System.nanoTime() - deadline < 0, "gave up after 30 s waiting for " + what);
            members.forEach(Member::poll);
        }
    }

    private static boolean splitBetween(Member a, Member b) {
        Set<Integer> union = new TreeSet<>(a.assigned());
        union.addAll(b.assigned());
        return !a.assigned().isEmpty() && !b.assigned().isEmpty() && union.equals(ALL)
                && a.assigned().size() + b.assigned().size() == PARTITIONS;
    }

    /** (partition, offset) of every record processed by `members`; fails on a record seen twice. */
    private static Set<String> exactlyOnce(List<Member> members, int want) {
        Set<String> seen = new HashSet<>();
        int total = 0;
        for (Member m : members) {
            for (ConsumerRecord<byte[], byte[]> r : m.processed) {
                check(seen.add(r.partition() + "/" + r.offset()), "record " + r.partition() + "/" + r.offset()
                        + " processed twice");
                total++;
            }
        }
        check(total == want, total + " records processed, expected " + want);
        return seen;
    }

    /** Scenario consumer-group-resume: commit 45 of 90, close; a new member reads the other 45. */
    static void resume(String bootstrap, String topic) throws Exception {
        produceAll(bootstrap, expected(topic, 17, 90, Driver.pastBase()));
        String group = "compat-" + topic;
        List<ConsumerRecord<byte[], byte[]>> first;
        try (Member m = new Member(bootstrap, topic, group, false)) {
            pollUntil(List.of(m), "45 records for the first member", () -> m.processed.size() >= 45);
            first = m.processed.subList(0, 45);
            Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
            first.forEach(r -> commit.put(new TopicPartition(topic, r.partition()), new OffsetAndMetadata(r.offset() + 1)));
            m.consumer.commitSync(commit);
        }
        try (Member m = new Member(bootstrap, topic, group, false)) {
            pollUntil(List.of(m), "the other 45 records for the resumed member", () -> m.processed.size() >= 45);
            m.consumer.poll(Duration.ofMillis(300)).forEach(m.processed::add);
            Set<String> seen = new HashSet<>();
            first.forEach(r -> seen.add(r.partition() + "/" + r.offset()));
            m.processed.forEach(r -> seen.add(r.partition() + "/" + r.offset()));
            check(m.processed.size() == 45 && seen.size() == 90,
                    "resumed member got " + m.processed.size() + ", " + seen.size() + " distinct in all");
        }
    }

    /** Scenario consumer-group-rebalance: two members split the topic, one leaves, the other takes over. */
    // A member closes mid-scenario on purpose; Member.close is idempotent.
    @SuppressWarnings("try")
    static void rebalance(String bootstrap, String topic) throws Exception {
        String group = "compat-" + topic;
        produceAll(bootstrap, expected(topic, 21, 45, Driver.pastBase()));
        try (Member a = new Member(bootstrap, topic, group, true);
                Member b = new Member(bootstrap, topic, group, true)) {
            pollUntil(List.of(a, b), "two members with disjoint assignments covering every partition, 45 records",
                    () -> splitBetween(a, b) && a.processed.size() + b.processed.size() >= 45);
            // b leaves the group on close: a must take every partition over and see the rest.
            b.close();
            produceAll(bootstrap, expected(topic, 22, 45, Driver.pastBase()));
            pollUntil(List.of(a), "the remaining member to own every partition and 90 records in all",
                    () -> a.assigned().equals(ALL) && a.processed.size() + b.processed.size() >= 90);
            a.poll();
            exactlyOnce(List.of(a, b), 90);
        }
    }

    /** Scenario static-membership: a static member restarts within the session timeout. */
    // A member closes mid-scenario on purpose; Member.close is idempotent.
    @SuppressWarnings("try")
    static void staticMembership(String bootstrap, String topic) throws Exception {
        String group = "compat-" + topic;
        Object[] conf = {"session.timeout.ms", "20000"};
        try (Member a = new Member(bootstrap, topic, group, false, "group.instance.id", "a", conf[0], conf[1]);
                Member b = new Member(bootstrap, topic, group, false, "group.instance.id", "b", conf[0], conf[1])) {
            pollUntil(List.of(a, b), "two static members splitting every partition", () -> splitBetween(a, b)
                    && a.consumer.groupMetadata().generationId() == b.consumer.groupMetadata().generationId());
            int generation = b.consumer.groupMetadata().generationId();
            Set<Integer> aParts = a.assigned();
            Set<Integer> bParts = b.assigned();
            int bRevocations = b.revocations.size();
            // A static member's close sends no LeaveGroup: the group keeps its place.
            a.close();
            try (Member a2 = new Member(bootstrap, topic, group, false, "group.instance.id", "a", conf[0], conf[1])) {
                pollUntil(List.of(a2, b), "the restarted static member to get partitions",
                        () -> !a2.assigned().isEmpty());
                // A second of polling shows no rebalance follows the rejoin.
                long until = System.nanoTime() + Duration.ofSeconds(1).toNanos();
                while (System.nanoTime() - until < 0) {
                    a2.poll();
                    b.poll();
                }
                check(a2.assigned().equals(aParts), "restarted member got " + a2.assigned() + ", had " + aParts);
                check(b.assigned().equals(bParts) && b.revocations.size() == bRevocations,
                        "the other member went from " + bParts + " to " + b.assigned() + " (revocations "
                                + b.revocations.subList(bRevocations, b.revocations.size()) + ")");
                int g2 = a2.consumer.groupMetadata().generationId();
                int gb = b.consumer.groupMetadata().generationId();
                check(g2 == generation && gb == generation,
                        "generation " + generation + " became " + g2 + " (restarted) / " + gb + " (other)");
            }
        }
    }

    /** Scenario cooperative-rebalance: only moved partitions are revoked from the first member. */
    static void cooperative(String bootstrap, String topic) throws Exception {
        String group = "compat-" + topic;
        Object[] coop = {"partition.assignment.strategy", CooperativeStickyAssignor.class.getName()};
        produceAll(bootstrap, expected(topic, 23, 30, Driver.pastBase()));
        try (Member a = new Member(bootstrap, topic, group, true, coop)) {
            pollUntil(List.of(a), "the first member to own every partition and 30 records",
                    () -> a.assigned().equals(ALL) && a.processed.size() >= 30);
            try (Member b = new Member(bootstrap, topic, group, true, coop)) {
                b.poll();
                produceAll(bootstrap, expected(topic, 24, 30, Driver.pastBase()));
                pollUntil(List.of(a, b), "the second member to get partitions and 60 records in all", () -> {
                    check(!a.assigned().isEmpty(), "the first member lost every partition (revoked "
                            + a.revocations + ")");
                    return splitBetween(a, b) && a.processed.size() + b.processed.size() >= 60;
                });
                Set<Integer> revoked = new TreeSet<>();
                a.revocations.forEach(revoked::addAll);
                check(revoked.equals(b.assigned()), "first member had " + a.revocations
                        + " revoked; the second owns " + b.assigned());
                for (int p : a.assigned()) {
                    check(a.processed.stream().anyMatch(r -> r.partition() == p && r.offset() >= 10),
                            "the first member consumed nothing new from its kept partition " + p);
                }
                exactlyOnce(List.of(a, b), 60);
            }
        }
    }

    /** Scenario consumer-protocol-group: the KIP-848 protocol (ConsumerGroupHeartbeat). */
    static void consumerProtocol(String bootstrap, String topic) throws Exception {
        String group = "compat-" + topic;
        Object[] kip848 = {"group.protocol", "consumer"};
        produceAll(bootstrap, expected(topic, 25, 90, Driver.pastBase()));
        try (Member a = new Member(bootstrap, topic, group, true, kip848);
                Member b = new Member(bootstrap, topic, group, true, kip848)) {
            pollUntil(List.of(a, b), "two members splitting every partition and 90 records",
                    () -> splitBetween(a, b) && a.processed.size() + b.processed.size() >= 90);
            a.poll();
            b.poll();
            exactlyOnce(List.of(a, b), 90);
        }
        try (Admin adm = admin(bootstrap)) {
            Map<Integer, Long> c = committed(adm, group);
            check(c.equals(Map.of(0, 30L, 1, 30L, 2, 30L)), "committed " + c + ", expected 30 on each partition");
        }
        produceAll(bootstrap, expected(topic, 26, 30, Driver.pastBase()));
        try (Member c = new Member(bootstrap, topic, group, false, kip848)) {
            pollUntil(List.of(c), "a new member to read the 30 new records", () -> c.processed.size() >= 30);
            c.poll();
            check(c.processed.size() == 30 && c.processed.stream().allMatch(r -> r.offset() >= 30),
                    "new member read " + c.processed.size() + " records, not only the 30 after the commits");
        }
    }

    /** Scenario consumer-group-lag: OffsetFetch and ListOffsets through Admin; the group is EMPTY. */
    static void lag(String bootstrap, String topic) throws Exception {
        String group = "compat-" + topic;
        produceAll(bootstrap, expected(topic, 27, 90, Driver.pastBase()));
        try (Member m = new Member(bootstrap, topic, group, false)) {
            pollUntil(List.of(m), "the member to own every partition", () -> m.assigned().equals(ALL));
            m.consumer.commitSync(Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(10),
                    new TopicPartition(topic, 1), new OffsetAndMetadata(20),
                    new TopicPartition(topic, 2), new OffsetAndMetadata(30)));
        }
        try (Admin a = admin(bootstrap)) {
            Map<Integer, Long> committed = committed(a, group);
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            partitions(topic).forEach(tp -> latest.put(tp, OffsetSpec.latest()));
            Map<Integer, Long> lag = new HashMap<>();
            a.listOffsets(latest).all().get().forEach((tp, info) ->
                    lag.put(tp.partition(), info.offset() - committed.getOrDefault(tp.partition(), 0L)));
            check(committed.equals(Map.of(0, 10L, 1, 20L, 2, 30L)), "committed " + committed);
            check(lag.equals(Map.of(0, 20L, 1, 10L, 2, 0L)), "lag " + lag + ", expected {0=20, 1=10, 2=0}");
            ConsumerGroupDescription d = a.describeConsumerGroups(List.of(group)).all().get().get(group);
            check(d.groupState() == GroupState.EMPTY && d.members().isEmpty(),
                    "group state " + d.groupState() + " with " + d.members().size() + " members, expected EMPTY");
            check(a.listGroups().all().get().stream().anyMatch(g -> g.groupId().equals(group)), "group not listed");
        }
    }

    /** Scenario consumer-group-reset-offsets: AlterConsumerGroupOffsets to earliest, an offset, a time. */
    static void resetOffsets(String bootstrap, String topic) throws Exception {
        String group = "compat-" + topic;
        long base = Driver.pastBase();
        produceAll(bootstrap, expected(topic, 28, 90, base));
        try (Member m = new Member(bootstrap, topic, group, true)) {
            pollUntil(List.of(m), "the member to read all 90 records", () -> m.processed.size() >= 90);
        }
        try (Admin a = admin(bootstrap)) {
            check(committed(a, group).equals(Map.of(0, 30L, 1, 30L, 2, 30L)), "committed " + committed(a, group));
            TopicPartition p0 = new TopicPartition(topic, 0);
            TopicPartition p2 = new TopicPartition(topic, 2);
            long earliest = a.listOffsets(Map.of(p0, OffsetSpec.earliest())).partitionResult(p0).get().offset();
            // Partition 2 holds records 2, 5, 8...: base+62 is record 62's timestamp, offset 20.
            long byTime = a.listOffsets(Map.of(p2, OffsetSpec.forTimestamp(base + 62))).partitionResult(p2).get().offset();
            a.alterConsumerGroupOffsets(group, Map.of(p0, new OffsetAndMetadata(earliest),
                    new TopicPartition(topic, 1), new OffsetAndMetadata(12), p2, new OffsetAndMetadata(byTime)))
                    .all().get();
            Map<Integer, Long> c = committed(a, group);
            check(c.equals(Map.of(0, 0L, 1, 12L, 2, 20L)), "after the reset: committed " + c + ", expected {0=0, 1=12, 2=20}");
        }
        try (Member m = new Member(bootstrap, topic, group, false)) {
            pollUntil(List.of(m), "58 records from the reset positions", () -> m.processed.size() >= 58);
            m.poll();
            for (int p = 0; p < PARTITIONS; p++) {
                final int part = p;
                List<Long> offs = m.processed.stream().filter(r -> r.partition() == part).map(ConsumerRecord::offset).toList();
                long from = new long[] {0, 12, 20}[p];
                check(offs.size() == 30 - from && offs.get(0) == from,
                        "partition " + p + ": " + offs.size() + " records from " + (offs.isEmpty() ? "-" : offs.get(0))
                                + ", expected " + (30 - from) + " from " + from);
            }
        }
    }
}
