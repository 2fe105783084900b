package compat;

import static compat.Driver.check;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The dump-log scenario: a known number of batches goes to partition 0, then kafka-dump-log
 * (kafka.tools.DumpLogSegments) reads the broker's own `.log`, `.index` and `.timeindex` files
 * of that partition from the log dir run.py passes in COMPAT_LOG_DIR.
 */
final class DumpLog {
    static final int BATCHES = 20;
    static final int PER_BATCH = 10;
    private static final Pattern BATCH = Pattern.compile(
            "baseOffset: (\\d+) lastOffset: (\\d+) count: (\\d+) .*isvalid: (\\w+)");
    private static final Pattern INDEX = Pattern.compile("^offset: (\\d+) position: (\\d+)$");
    private static final Pattern RECORD = Pattern.compile(
            "^\\| offset: (\\d+) CreateTime: (\\d+) keySize: (\\d+) valueSize: (\\d+) sequence: (\\d+)");
    private static final Pattern TIME_INDEX = Pattern.compile("^timestamp: (\\d+) offset: (\\d+)$");

    private DumpLog() {}

    /** Scenario dump-log: see the class comment. */
    static void dumpLog(String bootstrap, String topic) throws Exception {
        String logDir = System.getenv("COMPAT_LOG_DIR");
        if (logDir == null) {
            throw new Driver.Unsupported("COMPAT_LOG_DIR (the broker's log dir) is not set");
        }
        long base = Driver.pastBase();
        // Each batch ~1.3 KB, so the 26 KB log crosses index.interval.bytes (4096) a few times.
        try (KafkaProducer<byte[], byte[]> p = Clients.producer(bootstrap, "linger.ms", "1000", "compression.type", "none")) {
            for (int b = 0; b < BATCHES; b++) {
                for (int r = 0; r < PER_BATCH; r++) {
                    int i = b * PER_BATCH + r;
                    p.send(new ProducerRecord<>(topic, 0, base + i, Clients.utf8("k" + i), new byte[100]));
                }
                p.flush();
            }
        }
        Path dir = Path.of(logDir, topic + "-0");
        List<Path> logs;
        try (Stream<Path> files = Files.list(dir)) {
            logs = files.filter(f -> f.toString().endsWith(".log")).sorted().toList();
        } catch (IOException e) {
            throw new Driver.Failed("cannot list " + dir + ": " + e);
        }
        check(logs.size() == 1, logs.size() + " segments in " + dir + ", expected 1");
        String prefix = logs.get(0).toString().replaceAll("\\.log$", "");
        // --deep-iteration also decodes every record of every batch.
        Tools.Result r = Tools.run(Cli.DUMP_LOG, "--deep-iteration", "--files", prefix + ".log," + prefix + ".index," + prefix + ".timeindex")
                .ok("kafka-dump-log");
        String out = r.out() + r.err();
        for (String bad : List.of("ismatch", "out of order", "xception", "orrupt", "ERROR")) {
            check(!out.contains(bad), "kafka-dump-log reports a problem: " + line(out, bad));
        }
        checkBatches(out);
        checkRecords(out, base);
        checkIndexes(out, base);
    }

    private static String line(String out, String word) {
        return out.lines().filter(l -> l.contains(word)).findFirst().map(Tools::tail).orElse(word);
    }

    private static void checkBatches(String out) {
        List<long[]> batches = new ArrayList<>();
        Matcher m = BATCH.matcher(out);
        while (m.find()) {
            check(m.group(4).equals("true"), "kafka-dump-log: batch at " + m.group(1) + " is not valid");
            batches.add(new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(3))});
        }
        check(batches.size() == BATCHES, "kafka-dump-log shows " + batches.size() + " batches, expected " + BATCHES);
        for (int b = 0; b < BATCHES; b++) {
            long[] x = batches.get(b);
            check(x[0] == (long) b * PER_BATCH && x[1] == x[0] + PER_BATCH - 1 && x[2] == PER_BATCH,
                    "batch " + b + ": offsets " + x[0] + ".." + x[1] + " count " + x[2]);
        }
    }

    /** Each record as produced: offset i, timestamp base + i, key "k<i>", a 100-byte value, sequence i. */
    private static void checkRecords(String out, long base) {
        long next = 0;
        for (String l : out.lines().toList()) {
            Matcher m = RECORD.matcher(l);
            if (!m.find()) {
                continue;
            }
            long off = Long.parseLong(m.group(1));
            check(off == next && Long.parseLong(m.group(2)) == base + off
                    && m.group(3).equals(Integer.toString(("k" + off).length())) && m.group(4).equals("100")
                    && Long.parseLong(m.group(5)) == off, "kafka-dump-log record " + next + ": " + Tools.tail(l));
            next++;
        }
        check(next == (long) BATCHES * PER_BATCH, "kafka-dump-log --deep-iteration shows " + next + " records, expected "
                + BATCHES * PER_BATCH);
    }

    private static void checkIndexes(String out, long base) {
        List<Long> indexed = new ArrayList<>();
        long lastTs = -1;
        long lastTsOffset = -1;
        int timeEntries = 0;
        for (String l : out.lines().map(String::strip).toList()) {
            Matcher i = INDEX.matcher(l);
            if (i.matches()) {
                long off = Long.parseLong(i.group(1));
                check(indexed.isEmpty() || off > indexed.get(indexed.size() - 1), ".index offsets not increasing: " + l);
                indexed.add(off);
            }
            Matcher t = TIME_INDEX.matcher(l);
            if (t.matches()) {
                long ts = Long.parseLong(t.group(1));
                long off = Long.parseLong(t.group(2));
                check(ts >= lastTs && off >= lastTsOffset, ".timeindex entries not increasing: " + l);
                // Our timestamps are base + offset, and an entry names a batch's max timestamp.
                check(ts == base + off, ".timeindex entry " + l + " does not match the record at that offset");
                lastTs = ts;
                lastTsOffset = off;
                timeEntries++;
            }
        }
        check(!indexed.isEmpty() && indexed.stream().allMatch(o -> o % PER_BATCH == PER_BATCH - 1 || o % PER_BATCH == 0),
                "kafka-dump-log: .index entries " + indexed + ", expected a few on batch boundaries");
        check(timeEntries > 0, "kafka-dump-log: no .timeindex entries");
    }
}
