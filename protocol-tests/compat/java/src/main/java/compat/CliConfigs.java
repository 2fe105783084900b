package compat;

import static compat.Cli.CONFIGS;
import static compat.Cli.DELETE_RECORDS;
import static compat.Cli.TOPICS;
import static compat.Cli.consumePartition;
import static compat.Cli.lines;
import static compat.Cli.offsets;
import static compat.Cli.produce;
import static compat.Driver.check;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Config, records and perf-test scenarios of the `kafka-cli` client. */
final class CliConfigs {
    private CliConfigs() {}

    /** The `name=value sensitive=... synonyms={...}` line kafka-configs printed for name. */
    static String entry(String describe, String name) {
        return describe.lines().map(String::strip).filter(l -> l.startsWith(name + "=")).findFirst()
                .orElseThrow(() -> new Driver.Failed(name + " missing from kafka-configs --describe --all"));
    }

    /** Checks an entry's value and, from its synonyms (which lead with the effective one), its source. */
    static void expect(String describe, String name, String value, String source) {
        String e = entry(describe, name);
        check(e.startsWith(name + "=" + value + " "), "kafka-configs: " + e + ", expected " + name + "=" + value);
        // A default may come without synonyms (Kafka lists none for retention.ms).
        boolean sourceOk = e.contains("synonyms={" + source + ":")
                || (source.equals("DEFAULT_CONFIG") && e.contains("synonyms={}"));
        check(sourceOk, "kafka-configs: " + e + ", expected the source " + source);
    }

    private static void createTopic(String bootstrap, String topic, String... extra) {
        String[] base = {"--bootstrap-server", bootstrap, "--create", "--topic", topic, "--partitions", "1",
            "--replication-factor", "1"};
        String[] args = Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        Tools.run(TOPICS, args).ok("kafka-topics --create");
    }

    /** Scenario describe-configs: kafka-topics --create --config, then kafka-configs --describe --all. */
    static void describeConfigs(String bootstrap, String topic) throws Exception {
        createTopic(bootstrap, topic, "--config", "retention.ms=3600000");
        String d = CliDriver.describeConfigs(bootstrap, topic);
        expect(d, "retention.ms", "3600000", "DYNAMIC_TOPIC_CONFIG");
        expect(d, "cleanup.policy", "delete", "DEFAULT_CONFIG");
    }

    private static Tools.Result alter(String bootstrap, String topic, String op, String configs) {
        return Tools.run(CONFIGS, "--bootstrap-server", bootstrap, "--alter", "--entity-type", "topics",
                "--entity-name", topic, op, configs);
    }

    /** Scenario alter-configs: kafka-configs --add-config/--delete-config, then an invalid value. */
    static void alterConfigs(String bootstrap, String topic) throws Exception {
        createTopic(bootstrap, topic);
        CliDriver.describeConfigs(bootstrap, topic);
        alter(bootstrap, topic, "--add-config", "retention.ms=7200000,cleanup.policy=compact").ok("kafka-configs --add-config");
        Driver.eventually(() -> {
            String d = CliDriver.describeConfigs(bootstrap, topic);
            expect(d, "retention.ms", "7200000", "DYNAMIC_TOPIC_CONFIG");
            expect(d, "cleanup.policy", "compact", "DYNAMIC_TOPIC_CONFIG");
            return null;
        });
        alter(bootstrap, topic, "--delete-config", "retention.ms").ok("kafka-configs --delete-config");
        Driver.eventually(() -> {
            String d = CliDriver.describeConfigs(bootstrap, topic);
            expect(d, "retention.ms", "604800000", "DEFAULT_CONFIG");
            expect(d, "cleanup.policy", "compact", "DYNAMIC_TOPIC_CONFIG");
            return null;
        });
        Tools.Result bad = alter(bootstrap, topic, "--add-config", "retention.ms=soon");
        String said = bad.out() + bad.err();
        check(bad.code() != 0 && said.contains("InvalidConfigurationException"),
                "retention.ms=soon: exit " + bad.code() + ", " + Tools.tail(said) + " (expected INVALID_CONFIG)");
        expect(CliDriver.describeConfigs(bootstrap, topic), "retention.ms", "604800000", "DEFAULT_CONFIG");
    }

    static void deleteRecords(String bootstrap, String topic) throws Exception {
        produce(bootstrap, topic, lines("del", 7, 90)).ok("kafka-console-producer");
        Map<Integer, Long> end = offsets(bootstrap, topic, -1);
        int p = end.entrySet().stream().filter(e -> e.getValue() >= 10).findFirst()
                .orElseThrow(() -> new Driver.Failed("no partition with 10 records: " + end)).getKey();
        Path json = Files.createTempFile("compat-delete-records", ".json");
        try {
            Files.writeString(json, "{\"version\":1,\"partitions\":[{\"topic\":\"" + topic + "\",\"partition\":" + p
                    + ",\"offset\":7}]}");
            Tools.Result r = Tools.run(DELETE_RECORDS, "--bootstrap-server", bootstrap, "--offset-json-file",
                    json.toString()).ok("kafka-delete-records");
            check(r.out().contains("low_watermark: 7"), "kafka-delete-records: " + Tools.tail(r.out() + r.err()));
        } finally {
            Files.deleteIfExists(json);
        }
        Map<Integer, Long> start = offsets(bootstrap, topic, -2);
        check(start.get(p) == 7, "earliest offsets " + start + ", expected 7 on partition " + p);
        List<Cli.Printed> got = consumePartition(bootstrap, topic, p, "earliest", end.get(p) - 7);
        check(got.size() == end.get(p) - 7 && got.get(0).offset() == 7,
                "console consumer from earliest read " + got.size() + " records from "
                        + (got.isEmpty() ? "-" : got.get(0).offset()) + ", expected " + (end.get(p) - 7) + " from 7");
    }

    /** Scenario perf-tools: kafka-producer-perf-test then kafka-consumer-perf-test, every record counted. */
    static void perfTools(String bootstrap, String topic) throws Exception {
        Tools.Result prod = Tools.run(Cli.PRODUCER_PERF, "--topic", topic, "--num-records", "2000", "--record-size", "100",
                "--throughput", "-1", "--producer-props", "bootstrap.servers=" + bootstrap, "acks=all", "linger.ms=5")
                .ok("kafka-producer-perf-test");
        check(prod.out().contains("2000 records sent"), "kafka-producer-perf-test: " + Tools.tail(prod.out()));
        Map<Integer, Long> end = offsets(bootstrap, topic, -1);
        long stored = end.values().stream().mapToLong(Long::longValue).sum();
        check(stored == 2000, "end offsets add up to " + stored + " after 2000 records were sent");
        Tools.Result cons = Tools.run(Cli.CONSUMER_PERF, "--bootstrap-server", bootstrap, "--topic", topic,
                "--messages", "2000", "--timeout", "20000").ok("kafka-consumer-perf-test");
        List<String> out = cons.out().lines().filter(l -> l.contains(",")).toList();
        check(out.size() >= 2, "kafka-consumer-perf-test printed: " + Tools.tail(cons.out() + cons.err()));
        List<String> header = Arrays.stream(out.get(0).split(",")).map(String::strip).toList();
        String[] row = out.get(out.size() - 1).split(",");
        int col = header.indexOf("data.consumed.in.nMsg");
        check(col >= 0 && col < row.length, "no data.consumed.in.nMsg column: " + out.get(0));
        check(row[col].strip().equals("2000"), "kafka-consumer-perf-test consumed " + row[col].strip() + " of 2000");
    }
}
