package compat;

import static compat.Cli.CONSUMER;
import static compat.Cli.GROUPS;
import static compat.Cli.PRINT_ALL;
import static compat.Cli.lines;
import static compat.Cli.offsets;
import static compat.Cli.parse;
import static compat.Cli.produce;
import static compat.Driver.WAIT;
import static compat.Driver.check;
import static compat.Driver.waitFor;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;

/** Group scenarios of the `kafka-cli` client: console consumers in a group, kafka-consumer-groups. */
final class CliGroups {
    private CliGroups() {}

    /** The console consumer in `group` (classic protocol) from the start, up to `max` records. */
    static Tools.Result groupConsumer(String bootstrap, String topic, String group, int max, String... extra) {
        List<String> args = new ArrayList<>(List.of("--bootstrap-server", bootstrap, "--topic", topic, "--group", group,
                "--from-beginning", "--max-messages", Integer.toString(max), "--timeout-ms", "20000"));
        args.addAll(List.of(PRINT_ALL));
        args.addAll(List.of(extra));
        return Tools.run(CONSUMER, args.toArray(String[]::new));
    }

    /** The group's committed offsets as the Admin API reports them (partition -> offset). */
    static Map<Integer, Long> committed(String bootstrap, String group) throws Exception {
        try (Admin a = Clients.admin(bootstrap)) {
            return Clients.committed(a, group);
        }
    }

    /** Scenario consume-earliest-latest: console consumers with and without --from-beginning. */
    static void earliestLatest(String bootstrap, String topic) throws Exception {
        produce(bootstrap, topic, lines("old", 1, 60)).ok("kafka-console-producer");
        Tools.Result early = groupConsumer(bootstrap, topic, "compat-early-" + topic, 60).ok("console consumer --from-beginning");
        check(parse(early.out()).size() == 60, "--from-beginning: " + parse(early.out()).size() + " records, expected 60");
        // A consumer without --from-beginning starts at the end; its auto-commit of that position
        // tells when it is in place, before the new records are produced.
        String group = "compat-late-" + topic;
        CompletableFuture<Tools.Result> late = CompletableFuture.supplyAsync(() -> Tools.run(CONSUMER,
                "--bootstrap-server", bootstrap, "--topic", topic, "--group", group, "--max-messages", "30",
                "--timeout-ms", "20000", "--consumer-property", "auto.commit.interval.ms=100"));
        Map<Integer, Long> end = offsets(bootstrap, topic, -1);
        waitFor(WAIT, "the latest consumer to commit the end offsets " + end, () -> {
            try {
                return committed(bootstrap, group).equals(end) || late.isDone();
            } catch (Exception e) {
                return false;
            }
        });
        List<Cli.Line> later = lines("new", 2, 30);
        produce(bootstrap, topic, later).ok("kafka-console-producer");
        Tools.Result r = late.get(WAIT.toSeconds(), TimeUnit.SECONDS).ok("console consumer from latest");
        List<String> got = r.out().lines().filter(l -> !l.isEmpty()).sorted().toList();
        List<String> want = later.stream().map(Cli.Line::value).sorted().toList();
        check(got.equals(want), "latest: " + got.size() + " records, expected the 30 new ones");
    }

    /** Scenario consumer-group-resume: two console consumers of one group, one after the other. */
    static void resume(String bootstrap, String topic) throws Exception {
        produce(bootstrap, topic, lines("grp", 3, 90)).ok("kafka-console-producer");
        String group = "compat-" + topic;
        // One record per poll: the position committed on close is just past the 45 printed.
        String[] onePerPoll = {"--consumer-property", "max.poll.records=1"};
        List<Cli.Printed> first = parse(groupConsumer(bootstrap, topic, group, 45, onePerPoll).ok("first consumer").out());
        List<Cli.Printed> rest = parse(groupConsumer(bootstrap, topic, group, 45).ok("resumed consumer").out());
        Set<String> seen = new HashSet<>();
        first.forEach(p -> seen.add(p.partition() + "/" + p.offset()));
        rest.forEach(p -> seen.add(p.partition() + "/" + p.offset()));
        check(first.size() == 45 && rest.size() == 45 && seen.size() == 90,
                "first consumer " + first.size() + ", resumed " + rest.size() + ", " + seen.size() + " distinct");
    }

    /** Rows of a kafka-consumer-groups table for topic: partition -> the columns after PARTITION. */
    static Map<Integer, String[]> table(String out, String topic) {
        Map<Integer, String[]> rows = new TreeMap<>();
        for (String l : out.split("\n")) {
            String[] f = l.strip().split("\\s+");
            if (f.length >= 4 && f[1].equals(topic) && f[2].matches("\\d+")) {
                rows.put(Integer.parseInt(f[2]), java.util.Arrays.copyOfRange(f, 3, f.length));
            }
        }
        return rows;
    }

    /** Scenario consumer-group-lag: kafka-consumer-groups --describe against committed and end offsets. */
    static void lag(String bootstrap, String topic) throws Exception {
        produce(bootstrap, topic, lines("lag", 4, 90)).ok("kafka-console-producer");
        String group = "compat-" + topic;
        groupConsumer(bootstrap, topic, group, 40, "--consumer-property", "max.poll.records=1").ok("console consumer");
        Map<Integer, Long> committed = committed(bootstrap, group);
        Map<Integer, Long> end = offsets(bootstrap, topic, -1);
        Tools.Result r = Tools.run(GROUPS, "--bootstrap-server", bootstrap, "--describe", "--group", group)
                .ok("kafka-consumer-groups --describe");
        Map<Integer, String[]> rows = table(r.out(), topic);
        check(rows.size() == 3, "kafka-consumer-groups --describe shows " + rows.size() + " partitions:\n" + r.out());
        long total = 0;
        for (Map.Entry<Integer, String[]> e : rows.entrySet()) {
            int p = e.getKey();
            String[] f = e.getValue();
            long current = f[0].equals("-") ? 0 : Long.parseLong(f[0]);
            long logEnd = Long.parseLong(f[1]);
            long lag = Long.parseLong(f[2]);
            check(current == committed.getOrDefault(p, 0L) && logEnd == end.get(p) && lag == logEnd - current,
                    "partition " + p + ": current " + current + " end " + logEnd + " lag " + lag
                            + ", expected committed " + committed.get(p) + " end " + end.get(p));
            total += current;
        }
        check(total == 40, "committed offsets add up to " + total + ", expected the 40 consumed");
    }

    /** Scenario consumer-group-reset-offsets: --to-earliest, --to-offset, --to-datetime, then a new member. */
    static void resetOffsets(String bootstrap, String topic) throws Exception {
        produce(bootstrap, topic, lines("first", 5, 45)).ok("kafka-console-producer");
        Map<Integer, Long> firstEnd = offsets(bootstrap, topic, -1);
        long mid = System.currentTimeMillis();
        waitFor(WAIT, "the clock to pass " + mid, () -> System.currentTimeMillis() > mid);
        produce(bootstrap, topic, lines("second", 6, 45)).ok("kafka-console-producer");
        Map<Integer, Long> end = offsets(bootstrap, topic, -1);
        String group = "compat-" + topic;
        groupConsumer(bootstrap, topic, group, 90).ok("console consumer");
        check(committed(bootstrap, group).equals(end), "committed " + committed(bootstrap, group) + ", expected " + end);
        String when = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS").withZone(ZoneOffset.UTC)
                .format(Instant.ofEpochMilli(mid + 1)) + "Z";
        reset(bootstrap, group, topic, "--to-earliest");
        reset(bootstrap, group, topic + ":1", "--to-offset", "5");
        reset(bootstrap, group, topic + ":2", "--to-datetime", when);
        Map<Integer, Long> want = Map.of(0, 0L, 1, 5L, 2, firstEnd.get(2));
        Map<Integer, Long> c = committed(bootstrap, group);
        check(c.equals(want), "committed after the resets " + c + ", expected " + want);
        int expect = (int) (end.get(0) + end.get(1) - 5 + end.get(2) - firstEnd.get(2));
        List<Cli.Printed> got = parse(groupConsumer(bootstrap, topic, group, expect).ok("console consumer").out());
        check(got.size() == expect, got.size() + " records after the reset, expected " + expect);
        for (int p = 0; p < 3; p++) {
            final int part = p;
            long lowest = got.stream().filter(r -> r.partition() == part).mapToLong(Cli.Printed::offset).min().orElse(-1);
            check(lowest == want.get(p) || (lowest == -1 && want.get(p).equals(end.get(p))),
                    "partition " + p + " resumed at " + lowest + ", expected " + want.get(p));
        }
    }

    /** kafka-consumer-groups --reset-offsets --execute for `topicSpec`; checks the NEW-OFFSET table. */
    private static void reset(String bootstrap, String group, String topicSpec, String... how) {
        List<String> args = new ArrayList<>(List.of("--bootstrap-server", bootstrap, "--group", group,
                "--reset-offsets", "--topic", topicSpec, "--execute"));
        args.addAll(List.of(how));
        Tools.Result r = Tools.run(GROUPS, args.toArray(String[]::new)).ok("kafka-consumer-groups --reset-offsets " + how[0]);
        check(!table(r.out(), topicSpec.split(":")[0]).isEmpty(),
                "kafka-consumer-groups --reset-offsets " + how[0] + " printed no NEW-OFFSET table: " + Tools.tail(r.out() + r.err()));
    }
}
