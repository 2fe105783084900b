package compat;

import static compat.Clients.admin;
import static compat.Clients.consume;
import static compat.Clients.consumer;
import static compat.Clients.drain;
import static compat.Clients.expected;
import static compat.Clients.partitions;
import static compat.Clients.produceAll;
import static compat.Clients.producer;
import static compat.Clients.roundTrip;
import static compat.Driver.PARTITIONS;
import static compat.Driver.WAIT;
import static compat.Driver.check;

import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.utils.AppInfoParser;

/** The `java` client: scenarios driven by org.apache.kafka:kafka-clients (producer, consumer, Admin). */
public final class JavaDriver {
    private JavaDriver() {}

    /** Entry point: see {@link Driver}. */
    public static void main(String[] args) {
        Map<String, Driver.Scenario> s = new LinkedHashMap<>();
        s.put("metadata-autocreate", JavaDriver::metadataAutocreate);
        s.put("admin-topics", AdminScenarios::adminTopics);
        s.put("produce-consume", (b, t) -> roundTrip(b, t, 1));
        for (String codec : List.of("gzip", "snappy", "lz4", "zstd")) {
            s.put("codec-" + codec, (b, t) -> roundTrip(b, t, codec.hashCode(), "compression.type", codec));
        }
        s.put("max-message-size", JavaDriver::maxMessage);
        s.put("idempotent-producer", (b, t) -> roundTrip(b, t, 7, "enable.idempotence", "true", "acks", "all"));
        s.put("consume-earliest-latest", JavaDriver::earliestLatest);
        s.put("offsets-for-times", JavaDriver::offsetsForTimes);
        s.put("empty-partition-eof", JavaDriver::emptyEof);
        s.put("describe-configs", AdminScenarios::describeConfigs);
        s.put("consumer-group-resume", GroupScenarios::resume);
        s.put("consumer-group-rebalance", GroupScenarios::rebalance);
        s.put("static-membership", GroupScenarios::staticMembership);
        s.put("cooperative-rebalance", GroupScenarios::cooperative);
        s.put("consumer-protocol-group", GroupScenarios::consumerProtocol);
        s.put("consumer-group-lag", GroupScenarios::lag);
        s.put("consumer-group-reset-offsets", GroupScenarios::resetOffsets);
        s.put("alter-configs", AdminScenarios::alterConfigs);
        s.put("delete-records", AdminScenarios::deleteRecords);
        Driver.Scenario tool = (b, t) -> {
            throw new Driver.Unsupported("a command-line tool, not a client library feature (see kafka-cli)");
        };
        s.put("perf-tools", tool);
        s.put("dump-log", tool);
        Driver.main("java", args, Map.of("kafka-clients", AppInfoParser.getVersion()), s, System.out);
        // Client threads (a closed client's may linger) must not keep the JVM up.
        System.exit(0);
    }

    /** Scenario metadata-autocreate: partitionsFor on an unknown topic. */
    static void metadataAutocreate(String bootstrap, String topic) throws Exception {
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap)) {
            // partitionsFor sends Metadata with auto-creation allowed and waits for the topic.
            List<PartitionInfo> parts = p.partitionsFor(topic);
            check(parts.size() == PARTITIONS, parts.size() + " partitions, expected " + PARTITIONS);
            for (PartitionInfo pi : parts) {
                check(pi.leader() != null && !pi.leader().isEmpty(), "partition " + pi.partition() + " has no leader");
            }
        }
    }

    /** Scenario max-message-size: the producer's own limits raised, so only the broker refuses. */
    static void maxMessage(String bootstrap, String topic) throws Exception {
        byte[] near = new byte[1_000_000];
        Arrays.fill(near, (byte) 'n');
        byte[] over = new byte[1_100_000];
        Arrays.fill(over, (byte) 'o');
        // The client's own limits raised, so only the broker can refuse the big one.
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, "max.request.size", "2000000",
                "compression.type", "none", "buffer.memory", "8000000")) {
            p.send(new ProducerRecord<>(topic, 0, Clients.utf8("near"), near)).get();
            try {
                p.send(new ProducerRecord<>(topic, 0, Clients.utf8("over"), over)).get();
                check(false, "over-max record accepted");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof RecordTooLargeException,
                        "over-max record: " + e.getCause() + ", expected MESSAGE_TOO_LARGE");
            }
        }
        List<ConsumerRecord<byte[], byte[]>> got = consume(bootstrap, topic, 1, "max.partition.fetch.bytes", "2000000",
                "fetch.max.bytes", "2000000");
        check(got.size() == 1 && Arrays.equals(got.get(0).value(), near), "near-max record not read back");
    }

    /** Scenario consume-earliest-latest: seekToBeginning, then seekToEnd before new records. */
    static void earliestLatest(String bootstrap, String topic) throws Exception {
        produceAll(bootstrap, expected(topic, 11, 60, Driver.pastBase()));
        check(consume(bootstrap, topic, 60).size() == 60, "earliest: not all 60 records");
        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
            c.assign(partitions(topic));
            c.seekToEnd(partitions(topic));
            // position() resolves the end offsets before anything new is produced.
            for (TopicPartition tp : partitions(topic)) {
                check(c.position(tp, WAIT) == 20, "latest: position " + c.position(tp) + " on " + tp);
            }
            List<ProducerRecord<byte[], byte[]>> later = expected(topic, 12, 30, Driver.pastBase());
            produceAll(bootstrap, later);
            List<ConsumerRecord<byte[], byte[]>> got = drain(c, 30, WAIT);
            got.addAll(drain(c, 1, Duration.ofMillis(500)));
            Set<String> want = new HashSet<>();
            later.forEach(r -> want.add(Arrays.toString(r.value())));
            Set<String> have = new HashSet<>();
            got.forEach(r -> have.add(Arrays.toString(r.value())));
            check(got.size() == 30 && want.equals(have), "latest: " + got.size() + " records, expected the 30 new ones");
        }
    }

    /** Scenario offsets-for-times: offsetsForTimes, beginning/end offsets, Admin max timestamp. */
    static void offsetsForTimes(String bootstrap, String topic) throws Exception {
        long base = Driver.pastBase();
        produceAll(bootstrap, expected(topic, 13, 90, base));
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        TopicPartition p2 = new TopicPartition(topic, 2);
        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
            // Partition 0 holds records 0, 3, 6...: record 33, its 12th (offset 11), is the first
            // with a timestamp >= base+31; nothing in partition 1 is that late.
            Map<TopicPartition, OffsetAndTimestamp> at = c.offsetsForTimes(Map.of(p0, base + 31, p1, base + 10_000_000));
            check(at.get(p0) != null && at.get(p0).offset() == 11 && at.get(p0).timestamp() == base + 33,
                    "partition 0: " + at.get(p0) + ", expected offset 11 at " + (base + 33));
            check(at.get(p1) == null, "past the last timestamp: " + at.get(p1) + ", expected none");
            long lo = c.beginningOffsets(List.of(p2)).get(p2);
            long hi = c.endOffsets(List.of(p2)).get(p2);
            check(lo == 0 && hi == 30, "partition 2: offsets " + lo + "," + hi + ", expected 0,30");
        }
        try (Admin a = admin(bootstrap)) {
            ListOffsetsResultInfo max = a.listOffsets(Map.of(p1, OffsetSpec.maxTimestamp())).partitionResult(p1).get();
            check(max.offset() == 29 && max.timestamp() == base + 88,
                    "max timestamp of partition 1: offset " + max.offset() + " at " + max.timestamp());
            ListOffsetsResultInfo ts = a.listOffsets(Map.of(p0, OffsetSpec.forTimestamp(base + 31))).partitionResult(p0).get();
            check(ts.offset() == 11, "Admin: offset " + ts.offset() + " for the timestamp, expected 11");
        }
    }

    /** Scenario empty-partition-eof: end offsets 0 and no record from the start. */
    static void emptyEof(String bootstrap, String topic) throws Exception {
        metadataAutocreate(bootstrap, topic);
        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap)) {
            Map<TopicPartition, Long> end = c.endOffsets(partitions(topic), WAIT);
            check(end.values().stream().allMatch(o -> o == 0), "end offsets " + end);
            c.assign(partitions(topic));
            c.seekToBeginning(partitions(topic));
            List<ConsumerRecord<byte[], byte[]>> got = drain(c, 1, Duration.ofSeconds(2));
            check(got.isEmpty(), got.size() + " records came out of an empty topic");
            for (TopicPartition tp : partitions(topic)) {
                check(c.position(tp) == 0, "position " + c.position(tp) + " on " + tp);
            }
        }
    }
}
