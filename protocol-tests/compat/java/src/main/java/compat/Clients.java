package compat;

import static compat.Driver.PARTITIONS;
import static compat.Driver.WAIT;
import static compat.Driver.check;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/** Client factories, the expected records of a scenario and the byte-level comparison. */
final class Clients {
    /** Records per produce/consume scenario: small, so the matrix stays quick. */
    static final int RECORDS = 300;

    private Clients() {}

    /** A byte-array producer with a short linger, plus `extra` settings. */
    static KafkaProducer<byte[], byte[]> producer(String bootstrap, Object... extra) {
        Properties p = props(bootstrap, extra);
        p.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, "5");
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** A byte-array consumer without auto-commit, plus `extra` settings (a group.id among them). */
    static KafkaConsumer<byte[], byte[]> consumer(String bootstrap, Object... extra) {
        Properties p = props(bootstrap, extra);
        p.putIfAbsent(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    /** An Admin client on bootstrap. */
    static Admin admin(String bootstrap) {
        return Admin.create(props(bootstrap));
    }

    private static Properties props(String bootstrap, Object... extra) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        for (int i = 0; i + 1 < extra.length; i += 2) {
            p.put(extra[i].toString(), extra[i + 1].toString());
        }
        return p;
    }

    /**
     * Deterministic keyed records with headers (a duplicate header key included) and explicit
     * timestamps base+i on partition i % 3; values are random bytes so any byte-level change shows.
     */
    static List<ProducerRecord<byte[], byte[]>> expected(String topic, long seed, int count, long base) {
        Random rng = new Random(seed);
        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            byte[] value = new byte[rng.nextInt(300)];
            rng.nextBytes(value);
            List<Header> headers = List.of(
                    new RecordHeader("trace", utf8(Integer.toString(i))),
                    new RecordHeader("bin", new byte[] {0, (byte) 255, (byte) i}),
                    new RecordHeader("dup", utf8("first")),
                    new RecordHeader("dup", utf8("second")));
            out.add(new ProducerRecord<>(topic, i % PARTITIONS, base + i, utf8(String.format("key-%06d", i)),
                    value, headers));
        }
        return out;
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Sends every record and waits for every acknowledgement; returns their metadata. */
    static List<RecordMetadata> produceAll(KafkaProducer<byte[], byte[]> p, List<ProducerRecord<byte[], byte[]>> records)
            throws Exception {
        List<Future<RecordMetadata>> acks = new ArrayList<>();
        for (ProducerRecord<byte[], byte[]> r : records) {
            acks.add(p.send(r));
        }
        p.flush();
        List<RecordMetadata> out = new ArrayList<>();
        for (Future<RecordMetadata> f : acks) {
            out.add(f.get());
        }
        return out;
    }

    /** Produces `records` with a producer made with `extra` settings, then closes it. */
    static void produceAll(String bootstrap, List<ProducerRecord<byte[], byte[]>> records, Object... extra)
            throws Exception {
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap, extra)) {
            produceAll(p, records);
        }
    }

    /** Every partition of topic, 0..2. */
    static List<TopicPartition> partitions(String topic) {
        List<TopicPartition> out = new ArrayList<>();
        for (int p = 0; p < PARTITIONS; p++) {
            out.add(new TopicPartition(topic, p));
        }
        return out;
    }

    /** Reads `count` records of topic from the start of every partition with an assigned consumer. */
    static List<ConsumerRecord<byte[], byte[]>> consume(String bootstrap, String topic, int count, Object... extra)
            throws InterruptedException {
        try (KafkaConsumer<byte[], byte[]> c = consumer(bootstrap, extra)) {
            c.assign(partitions(topic));
            c.seekToBeginning(partitions(topic));
            return drain(c, count, WAIT);
        }
    }

    /** Polls `c` until `count` records arrived or `timeout` passed; returns what arrived. */
    static List<ConsumerRecord<byte[], byte[]>> drain(KafkaConsumer<byte[], byte[]> c, int count, Duration timeout) {
        List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (got.size() < count && System.nanoTime() - deadline < 0) {
            c.poll(Duration.ofMillis(200)).forEach(got::add);
        }
        return got;
    }

    /** Checks `got` holds exactly `want`, in order within each partition, byte for byte. */
    static void compare(List<ProducerRecord<byte[], byte[]>> want, List<ConsumerRecord<byte[], byte[]>> got) {
        check(got.size() == want.size(), "consumed " + got.size() + " records, expected " + want.size());
        for (int p = 0; p < PARTITIONS; p++) {
            final int part = p;
            List<ProducerRecord<byte[], byte[]>> w = want.stream().filter(r -> r.partition() == part).toList();
            List<ConsumerRecord<byte[], byte[]>> h = got.stream().filter(r -> r.partition() == part).toList();
            check(w.size() == h.size(), "partition " + p + ": " + h.size() + " records, expected " + w.size());
            for (int i = 0; i < w.size(); i++) {
                String where = "partition " + p + " record " + i + ": ";
                ProducerRecord<byte[], byte[]> a = w.get(i);
                ConsumerRecord<byte[], byte[]> b = h.get(i);
                check(b.offset() == i, where + "offset " + b.offset());
                check(Arrays.equals(a.key(), b.key()), where + "key differs");
                check(Arrays.equals(a.value(), b.value()), where + "value differs (" + b.value().length
                        + " bytes vs " + a.value().length + ")");
                check(a.timestamp() == b.timestamp(), where + "timestamp " + b.timestamp() + " != " + a.timestamp());
                Header[] ha = a.headers().toArray();
                Header[] hb = b.headers().toArray();
                check(ha.length == hb.length, where + hb.length + " headers, expected " + ha.length);
                for (int j = 0; j < ha.length; j++) {
                    check(ha[j].key().equals(hb[j].key()) && Arrays.equals(ha[j].value(), hb[j].value()),
                            where + "header " + j + " " + hb[j].key() + " differs");
                }
            }
        }
    }

    /** Produces 300 expected records with `extra` producer settings and reads them back. */
    static void roundTrip(String bootstrap, String topic, long seed, Object... extra) throws Exception {
        List<ProducerRecord<byte[], byte[]>> want = expected(topic, seed, RECORDS, Driver.pastBase());
        produceAll(bootstrap, want, extra);
        compare(want, consume(bootstrap, topic, want.size()));
    }

    /** The committed offset per partition of a group, as a map partition -> offset. */
    static Map<Integer, Long> committed(Admin admin, String group) throws Exception {
        Map<Integer, Long> out = new java.util.TreeMap<>();
        admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get()
                .forEach((tp, om) -> out.put(tp.partition(), om == null ? -1 : om.offset()));
        return out;
    }
}
