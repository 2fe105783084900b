package compat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;

/**
 * One consumer-group member of a scenario: subscribes to the topic, records what the rebalance
 * callbacks hand it, and keeps every record it processed (committing synchronously after each
 * poll when asked to). Not thread-safe: a scenario drives all its members from one thread.
 */
final class Member implements AutoCloseable {
    final KafkaConsumer<byte[], byte[]> consumer;
    /** Every record this member processed, in order. */
    final List<ConsumerRecord<byte[], byte[]>> processed = new ArrayList<>();
    /** Each revocation's partitions, in order (lost partitions included). */
    final List<Set<Integer>> revocations = new ArrayList<>();
    private final boolean commitEachPoll;
    private boolean closed;

    Member(String bootstrap, String topic, String group, boolean commitEachPoll, Object... extra) {
        Object[] conf = new Object[extra.length + 2];
        conf[0] = "group.id";
        conf[1] = group;
        System.arraycopy(extra, 0, conf, 2, extra.length);
        this.consumer = Clients.consumer(bootstrap, conf);
        this.commitEachPoll = commitEachPoll;
        consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                if (!partitions.isEmpty()) {
                    revocations.add(numbers(partitions));
                    // What was processed but not yet committed is committed before it moves.
                    if (Member.this.commitEachPoll) {
                        commit();
                    }
                }
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {}

            @Override
            public void onPartitionsLost(Collection<TopicPartition> partitions) {
                onPartitionsRevoked(partitions);
            }
        });
    }

    /** One short poll; the records are processed, then committed if this member commits each poll. */
    void poll() {
        var records = consumer.poll(Duration.ofMillis(100));
        records.forEach(processed::add);
        if (commitEachPoll && !records.isEmpty()) {
            commit();
        }
    }

    /** Commits the positions; a rebalance in progress defers it to the revocation or next poll. */
    private void commit() {
        try {
            consumer.commitSync();
        } catch (RebalanceInProgressException e) {
            // Retried: the revocation callback or the next poll with records commits again.
        }
    }

    /** The partition numbers currently assigned. */
    Set<Integer> assigned() {
        return numbers(consumer.assignment());
    }

    static Set<Integer> numbers(Collection<TopicPartition> tps) {
        Set<Integer> out = new TreeSet<>();
        tps.forEach(tp -> out.add(tp.partition()));
        return out;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            consumer.close();
        }
    }
}
