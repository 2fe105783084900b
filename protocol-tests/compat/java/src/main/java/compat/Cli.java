package compat;

import static compat.Driver.check;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/** Helpers that drive one Apache Kafka tool each and parse what it prints. */
final class Cli {
    // The main classes behind Kafka 4.1's kafka-topics.sh, kafka-console-producer.sh, ... scripts.
    static final String TOPICS = "org.apache.kafka.tools.TopicCommand";
    static final String PRODUCER = "org.apache.kafka.tools.ConsoleProducer";
    static final String CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer";
    static final String GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand";
    static final String GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell";
    static final String DELETE_RECORDS = "org.apache.kafka.tools.DeleteRecordsCommand";
    static final String CONFIGS = "kafka.admin.ConfigCommand";
    static final String PRODUCER_PERF = "org.apache.kafka.tools.ProducerPerformance";
    static final String CONSUMER_PERF = "org.apache.kafka.tools.ConsumerPerformance";
    static final String DUMP_LOG = "kafka.tools.DumpLogSegments";

    /** The console consumer's output settings: every field, tab-separated. */
    static final String[] PRINT_ALL = {"--property", "print.timestamp=true", "--property", "print.partition=true",
        "--property", "print.offset=true", "--property", "print.headers=true", "--property", "print.key=true"};

    private Cli() {}

    /** One line for the console producer: text headers (a duplicate key), a key, a value. */
    record Line(String headers, String key, String value) {
        String input() {
            return headers + "\t" + key + "\t" + value;
        }
    }

    /** A record as the console consumer printed it with {@link #PRINT_ALL}. */
    record Printed(long timestamp, String timestampType, int partition, long offset, String headers, String key,
            String value) {}

    /**
     * `count` lines with keys repeating every 100 lines (so keys repeat within a partition),
     * three headers of which two share a key, and random text values.
     */
    static List<Line> lines(String tag, long seed, int count) {
        Random rng = new Random(seed);
        List<Line> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            StringBuilder v = new StringBuilder(tag).append('-').append(i).append('-');
            int len = rng.nextInt(200);
            for (int j = 0; j < len; j++) {
                v.append((char) ('a' + rng.nextInt(26)));
            }
            out.add(new Line("trace:" + i + ",dup:first,dup:second", String.format("key-%03d", i % 100), v.toString()));
        }
        return out;
    }

    /** Feeds `lines` to kafka-console-producer (keys and headers parsed) with extra arguments. */
    static Tools.Result produce(String bootstrap, String topic, List<Line> lines, String... extra) {
        StringBuilder in = new StringBuilder();
        lines.forEach(l -> in.append(l.input()).append('\n'));
        List<String> args = new ArrayList<>(List.of("--bootstrap-server", bootstrap, "--topic", topic,
                "--property", "parse.key=true", "--property", "parse.headers=true"));
        args.addAll(List.of(extra));
        return Tools.runWithInput(PRODUCER, in.toString(), args.toArray(String[]::new));
    }

    /** kafka-get-offsets for `time` (-1 latest, -2 earliest, or a timestamp): partition -> offset. */
    static Map<Integer, Long> offsets(String bootstrap, String topic, long time) {
        Tools.Result r = Tools.run(GET_OFFSETS, "--bootstrap-server", bootstrap, "--topic", topic,
                "--time", Long.toString(time)).ok("kafka-get-offsets --time " + time);
        Map<Integer, Long> out = new TreeMap<>();
        for (String l : r.out().split("\n")) {
            String[] f = l.strip().split(":");
            if (f.length == 3 && f[0].equals(topic)) {
                out.put(Integer.parseInt(f[1]), Long.parseLong(f[2]));
            }
        }
        return out;
    }

    /** Reads `max` records of one partition from `from` ("earliest" or an offset) with the console consumer. */
    static List<Printed> consumePartition(String bootstrap, String topic, int partition, String from, long max,
            String... extra) {
        List<String> args = new ArrayList<>(List.of("--bootstrap-server", bootstrap, "--topic", topic,
                "--partition", Integer.toString(partition), "--offset", from, "--max-messages", Long.toString(max),
                "--timeout-ms", "20000"));
        args.addAll(List.of(PRINT_ALL));
        args.addAll(List.of(extra));
        return parse(Tools.run(CONSUMER, args.toArray(String[]::new)).ok("kafka-console-consumer").out());
    }

    /** Parses console-consumer lines printed with {@link #PRINT_ALL}. */
    static List<Printed> parse(String out) {
        List<Printed> got = new ArrayList<>();
        for (String l : out.split("\n")) {
            if (l.isEmpty()) {
                continue;
            }
            String[] f = l.split("\t", -1);
            check(f.length == 6, "unexpected console-consumer line: " + Tools.tail(l));
            String[] ts = f[0].split(":");
            got.add(new Printed(Long.parseLong(ts[1]), ts[0], Integer.parseInt(f[1].substring("Partition:".length())),
                    Long.parseLong(f[2].substring("Offset:".length())), f[3], f[4], f[5]));
        }
        return got;
    }

    /** Reads every record of topic, partition by partition, up to the current end offsets. */
    static List<Printed> consumeAll(String bootstrap, String topic, String... extra) {
        List<Printed> got = new ArrayList<>();
        for (Map.Entry<Integer, Long> e : offsets(bootstrap, topic, -1).entrySet()) {
            if (e.getValue() > 0) {
                got.addAll(consumePartition(bootstrap, topic, e.getKey(), "earliest", e.getValue(), extra));
            }
        }
        return got;
    }

    /**
     * Checks the console consumer read back exactly `sent`: every line once, each partition's
     * offsets 0..n-1 in the order produced, a key always on one partition, and CreateTime
     * timestamps within [from, to] (the tool cannot set timestamps itself).
     */
    static void compare(List<Line> sent, List<Printed> got, long from, long to) {
        check(got.size() == sent.size(), "consumed " + got.size() + " records, expected " + sent.size());
        Map<String, Integer> index = new java.util.HashMap<>();
        for (int i = 0; i < sent.size(); i++) {
            index.put(sent.get(i).value(), i);
        }
        Map<String, Integer> keyPartition = new java.util.HashMap<>();
        Map<Integer, Integer> lastIndex = new TreeMap<>();
        Map<Integer, Long> nextOffset = new TreeMap<>();
        for (Printed p : got) {
            Integer i = index.get(p.value());
            check(i != null, "a record that was not produced: " + Tools.tail(p.value()));
            Line l = sent.get(i);
            String where = "record " + i + " (partition " + p.partition() + " offset " + p.offset() + "): ";
            check(l.key().equals(p.key()) && l.headers().equals(p.headers()),
                    where + "key/headers " + p.key() + " / " + p.headers());
            check(p.offset() == nextOffset.getOrDefault(p.partition(), 0L), where + "offsets not contiguous");
            nextOffset.put(p.partition(), p.offset() + 1);
            check(i > lastIndex.getOrDefault(p.partition(), -1), where + "out of production order");
            lastIndex.put(p.partition(), i);
            check(keyPartition.computeIfAbsent(p.key(), k -> p.partition()) == p.partition(),
                    where + "key " + p.key() + " on two partitions");
            check(p.timestampType().equals("CreateTime") && p.timestamp() >= from && p.timestamp() <= to,
                    where + p.timestampType() + " " + p.timestamp() + " outside the production window " + from + ".." + to);
        }
    }

    /** Produces 300 lines with `extra` console-producer arguments and reads them back. */
    static void roundTrip(String bootstrap, String topic, String tag, String... extra) {
        List<Line> sent = lines(tag, tag.hashCode(), 300);
        long from = System.currentTimeMillis();
        produce(bootstrap, topic, sent, extra).ok("kafka-console-producer");
        long to = System.currentTimeMillis();
        compare(sent, consumeAll(bootstrap, topic), from, to);
    }
}
