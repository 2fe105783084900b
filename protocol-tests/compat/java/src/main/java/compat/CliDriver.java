package compat;

import static compat.Cli.CONFIGS;
import static compat.Cli.CONSUMER;
import static compat.Cli.TOPICS;
import static compat.Cli.consumePartition;
import static compat.Cli.lines;
import static compat.Cli.offsets;
import static compat.Cli.produce;
import static compat.Cli.roundTrip;
import static compat.Driver.WAIT;
import static compat.Driver.check;
import static compat.Driver.waitFor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.common.utils.AppInfoParser;

/**
 * The `kafka-cli` client: Apache Kafka's own command-line tools (kafka-topics, the console
 * producer and consumer, kafka-consumer-groups, kafka-configs, kafka-get-offsets,
 * kafka-delete-records, the perf tests, kafka-dump-log), called in-process by {@link Tools}.
 */
public final class CliDriver {
    private CliDriver() {}

    /** Entry point: see {@link Driver}. */
    public static void main(String[] args) {
        Tools.install();
        Map<String, Driver.Scenario> s = new LinkedHashMap<>();
        s.put("metadata-autocreate", CliDriver::metadataAutocreate);
        s.put("admin-topics", CliDriver::adminTopics);
        s.put("produce-consume", (b, t) -> roundTrip(b, t, "pc"));
        for (String codec : List.of("gzip", "snappy", "lz4", "zstd")) {
            s.put("codec-" + codec, (b, t) -> roundTrip(b, t, codec, "--compression-codec", codec));
        }
        s.put("max-message-size", CliDriver::maxMessage);
        s.put("idempotent-producer", (b, t) -> roundTrip(b, t, "idem", "--producer-property",
                "enable.idempotence=true", "--producer-property", "acks=all"));
        s.put("consume-earliest-latest", CliGroups::earliestLatest);
        s.put("offsets-for-times", CliDriver::offsetsForTimes);
        s.put("empty-partition-eof", CliDriver::emptyEof);
        s.put("describe-configs", CliConfigs::describeConfigs);
        s.put("consumer-group-resume", CliGroups::resume);
        s.put("consumer-group-rebalance", (b, t) -> CliMembers.twoMembers(b, t, false));
        s.put("static-membership", (b, t) -> {
            throw new Driver.Unsupported("no tool shows a group's generation");
        });
        s.put("cooperative-rebalance", (b, t) -> {
            throw new Driver.Unsupported("no tool shows which partitions a member had revoked");
        });
        s.put("consumer-protocol-group", (b, t) -> CliMembers.twoMembers(b, t, true));
        s.put("consumer-group-lag", CliGroups::lag);
        s.put("consumer-group-reset-offsets", CliGroups::resetOffsets);
        s.put("alter-configs", CliConfigs::alterConfigs);
        s.put("delete-records", CliConfigs::deleteRecords);
        s.put("perf-tools", CliConfigs::perfTools);
        s.put("dump-log", DumpLog::dumpLog);
        Driver.main("kafka-cli", args, Map.of("kafka-tools", AppInfoParser.getVersion()), s, Tools.REAL_OUT);
        // Client threads a tool left behind must not keep the JVM up.
        System.exit(0);
    }

    /** kafka-topics --describe output of topic (retried while the topic is not known yet). */
    static String describe(String bootstrap, String topic, String what, java.util.function.Predicate<String> ok)
            throws InterruptedException {
        String[] last = {""};
        waitFor(WAIT, what, () -> {
            Tools.Result r = Tools.run(TOPICS, "--bootstrap-server", bootstrap, "--describe", "--topic", topic);
            last[0] = r.out();
            return r.code() == 0 && ok.test(r.out());
        });
        return last[0];
    }

    /** Scenario metadata-autocreate: the console producer creates the topic; kafka-topics describes it. */
    static void metadataAutocreate(String bootstrap, String topic) throws Exception {
        // The console producer's Metadata request auto-creates the topic.
        produce(bootstrap, topic, lines("auto", 1, 3)).ok("kafka-console-producer");
        String d = describe(bootstrap, topic, "kafka-topics to show 3 partitions", o -> o.contains("PartitionCount: 3"));
        long leaders = d.lines().filter(l -> l.matches(".*Partition: \\d+\\s+Leader: \\d+.*")).count();
        check(leaders == 3, leaders + " partitions with a leader in:\n" + d);
    }

    /** Scenario admin-topics: kafka-topics --create, --describe, --alter --partitions, --delete, --list. */
    static void adminTopics(String bootstrap, String topic) throws Exception {
        Tools.run(TOPICS, "--bootstrap-server", bootstrap, "--create", "--topic", topic, "--partitions", "2",
                "--replication-factor", "1").ok("kafka-topics --create");
        describe(bootstrap, topic, "2 partitions after --create", o -> o.contains("PartitionCount: 2"));
        Tools.run(TOPICS, "--bootstrap-server", bootstrap, "--alter", "--topic", topic, "--partitions", "4")
                .ok("kafka-topics --alter --partitions 4");
        describe(bootstrap, topic, "4 partitions after --alter", o -> o.contains("PartitionCount: 4"));
        Tools.run(TOPICS, "--bootstrap-server", bootstrap, "--delete", "--topic", topic).ok("kafka-topics --delete");
        waitFor(WAIT, "kafka-topics --list to drop the topic", () -> {
            Tools.Result r = Tools.run(TOPICS, "--bootstrap-server", bootstrap, "--list");
            return r.code() == 0 && r.out().lines().noneMatch(topic::equals);
        });
    }

    /** Scenario max-message-size: the console producer with its own limit raised. */
    static void maxMessage(String bootstrap, String topic) throws Exception {
        String[] conf = {"--compression-codec", "none", "--sync", "--producer-property", "max.request.size=2000000"};
        String near = "n".repeat(1_000_000);
        produce(bootstrap, topic, List.of(new Cli.Line("h:1", "near", near)), conf).ok("producing the near-max record");
        Tools.Result over = produce(bootstrap, topic, List.of(new Cli.Line("h:1", "over", "o".repeat(1_100_000))), conf);
        String said = over.out() + over.err();
        check(said.contains("RecordTooLargeException") || said.contains("MESSAGE_TOO_LARGE"),
                "over-max record: no MESSAGE_TOO_LARGE from the producer (exit " + over.code() + "): "
                        + Tools.tail(said));
        Map<Integer, Long> end = offsets(bootstrap, topic, -1);
        check(end.values().stream().mapToLong(Long::longValue).sum() == 1, "end offsets " + end + ", expected one record");
        int p = end.entrySet().stream().filter(e -> e.getValue() == 1).findFirst().orElseThrow().getKey();
        List<Cli.Printed> got = consumePartition(bootstrap, topic, p, "earliest", 1,
                "--consumer-property", "max.partition.fetch.bytes=2000000", "--consumer-property", "fetch.max.bytes=2000000");
        check(got.size() == 1 && got.get(0).value().equals(near), "near-max record not read back");
    }

    /** Scenario offsets-for-times: kafka-get-offsets at -1, -2 and timestamps between two produce rounds. */
    static void offsetsForTimes(String bootstrap, String topic) throws Exception {
        produce(bootstrap, topic, lines("first", 1, 45)).ok("kafka-console-producer");
        Map<Integer, Long> firstEnd = offsets(bootstrap, topic, -1);
        long mid = System.currentTimeMillis();
        // Every later record gets a CreateTime after `mid`, so `mid + 1` splits the two rounds.
        waitFor(WAIT, "the clock to pass " + mid, () -> System.currentTimeMillis() > mid);
        produce(bootstrap, topic, lines("second", 2, 45)).ok("kafka-console-producer");
        Map<Integer, Long> end = offsets(bootstrap, topic, -1);
        check(end.values().stream().mapToLong(Long::longValue).sum() == 90, "end offsets " + end + ", expected 90 records");
        Map<Integer, Long> start = offsets(bootstrap, topic, -2);
        check(start.equals(Map.of(0, 0L, 1, 0L, 2, 0L)), "earliest offsets " + start);
        Map<Integer, Long> at = offsets(bootstrap, topic, mid + 1);
        check(at.equals(firstEnd), "offsets for time " + (mid + 1) + ": " + at + ", expected the first round's ends " + firstEnd);
        Map<Integer, Long> future = offsets(bootstrap, topic, System.currentTimeMillis() + 3_600_000);
        check(future.values().stream().allMatch(o -> o == -1) || future.isEmpty(),
                "offsets past the last timestamp: " + future + ", expected none");
    }

    /** Scenario empty-partition-eof: kafka-get-offsets and a console consumer on each empty partition. */
    static void emptyEof(String bootstrap, String topic) throws Exception {
        Tools.run(TOPICS, "--bootstrap-server", bootstrap, "--create", "--topic", topic, "--partitions", "3",
                "--replication-factor", "1").ok("kafka-topics --create");
        AtomicReference<Map<Integer, Long>> end = new AtomicReference<>(Map.of());
        waitFor(WAIT, "kafka-get-offsets to list 3 partitions", () -> {
            end.set(offsets(bootstrap, topic, -1));
            return end.get().size() == 3;
        });
        check(end.get().values().stream().allMatch(o -> o == 0), "end offsets " + end.get());
        for (int p = 0; p < 3; p++) {
            Tools.Result r = Tools.run(CONSUMER, "--bootstrap-server", bootstrap, "--topic", topic, "--partition",
                    Integer.toString(p), "--offset", "earliest", "--timeout-ms", "1000");
            check(r.out().isBlank(), "records came out of an empty partition: " + Tools.tail(r.out()));
            check(r.err().contains("Processed a total of 0 messages"), "partition " + p + ": " + Tools.tail(r.err()));
        }
    }

    /** kafka-configs --describe of a topic's configs (--all: every config, not only overrides). */
    static String describeConfigs(String bootstrap, String topic) throws InterruptedException {
        String[] out = {""};
        waitFor(WAIT, "kafka-configs --describe to answer", () -> {
            Tools.Result r = Tools.run(CONFIGS, "--bootstrap-server", bootstrap, "--describe", "--all",
                    "--entity-type", "topics", "--entity-name", topic);
            out[0] = r.out();
            return r.code() == 0 && r.out().contains("retention.ms=");
        });
        return out[0];
    }
}
