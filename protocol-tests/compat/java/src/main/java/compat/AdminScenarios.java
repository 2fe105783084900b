package compat;

import static compat.Clients.admin;
import static compat.Clients.consume;
import static compat.Clients.expected;
import static compat.Clients.produceAll;
import static compat.Driver.WAIT;
import static compat.Driver.check;
import static compat.Driver.retry;
import static compat.Driver.waitFor;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidConfigurationException;

/** Admin scenarios of the `java` client: topics, configs, records. */
final class AdminScenarios {
    private AdminScenarios() {}

    /** The partition count Admin sees for topic, -1 while it is not described. */
    private static int partitionCount(Admin a, String topic) {
        try {
            TopicDescription d = a.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            return d.partitions().size();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        } catch (ExecutionException e) {
            return -1;
        }
    }

    /** Scenario admin-topics: CreateTopics, CreatePartitions, DescribeTopics and DeleteTopics through Admin. */
    static void adminTopics(String bootstrap, String topic) throws Exception {
        try (Admin a = admin(bootstrap)) {
            a.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get();
            waitFor(WAIT, "2 partitions after create", () -> partitionCount(a, topic) == 2);
            a.createPartitions(Map.of(topic, NewPartitions.increaseTo(4))).all().get();
            waitFor(WAIT, "4 partitions after create partitions", () -> partitionCount(a, topic) == 4);
            TopicDescription d = a.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            check(d.partitions().stream().allMatch(p -> p.leader() != null && p.replicas().size() == 1),
                    "a partition without leader or with " + d.partitions() + " replicas");
            a.deleteTopics(List.of(topic)).all().get();
            waitFor(WAIT, "the topic to leave the topic list", () -> {
                try {
                    return !a.listTopics().names().get().contains(topic);
                } catch (InterruptedException | ExecutionException e) {
                    return false;
                }
            });
        }
    }

    /** The topic's configs as DescribeConfigs returns them. */
    static Config topicConfig(Admin a, String topic) throws Exception {
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        // A broker's metadata may lag the CreateTopics answer: retry a resource error.
        return retry(() -> a.describeConfigs(List.of(res)).all().get().get(res));
    }

    private static void expectEntry(Config c, String name, String value, ConfigEntry.ConfigSource source) {
        ConfigEntry e = c.get(name);
        check(e != null, name + " missing from DescribeConfigs");
        check(value.equals(e.value()) && e.source() == source,
                name + " = " + e.value() + " (" + e.source() + "), expected " + value + " (" + source + ")");
    }

    /** Scenario describe-configs: the override and a default, with their sources. */
    static void describeConfigs(String bootstrap, String topic) throws Exception {
        try (Admin a = admin(bootstrap)) {
            a.createTopics(List.of(new NewTopic(topic, 1, (short) 1).configs(Map.of("retention.ms", "3600000"))))
                    .all().get();
            Config c = topicConfig(a, topic);
            expectEntry(c, "retention.ms", "3600000", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG);
            expectEntry(c, "cleanup.policy", "delete", ConfigEntry.ConfigSource.DEFAULT_CONFIG);
        }
    }

    /** Scenario alter-configs: IncrementalAlterConfigs SET/DELETE, then an invalid value. */
    static void alterConfigs(String bootstrap, String topic) throws Exception {
        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        try (Admin a = admin(bootstrap)) {
            a.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
            topicConfig(a, topic);
            a.incrementalAlterConfigs(Map.of(res, List.of(
                    new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET),
                    new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.SET))))
                    .all().get();
            Driver.eventually(() -> {
                Config c = topicConfig(a, topic);
                expectEntry(c, "retention.ms", "7200000", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG);
                expectEntry(c, "cleanup.policy", "compact", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG);
                return null;
            });
            a.incrementalAlterConfigs(Map.of(res, List.of(
                    new AlterConfigOp(new ConfigEntry("retention.ms", ""), AlterConfigOp.OpType.DELETE))))
                    .all().get();
            Driver.eventually(() -> {
                Config c = topicConfig(a, topic);
                expectEntry(c, "retention.ms", "604800000", ConfigEntry.ConfigSource.DEFAULT_CONFIG);
                expectEntry(c, "cleanup.policy", "compact", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG);
                return null;
            });
            try {
                a.incrementalAlterConfigs(Map.of(res, List.of(
                        new AlterConfigOp(new ConfigEntry("retention.ms", "soon"), AlterConfigOp.OpType.SET))))
                        .all().get();
                check(false, "retention.ms=soon accepted");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof InvalidConfigurationException,
                        "retention.ms=soon: " + e.getCause() + ", expected INVALID_CONFIG");
            }
            expectEntry(topicConfig(a, topic), "retention.ms", "604800000", ConfigEntry.ConfigSource.DEFAULT_CONFIG);
        }
    }

    /** Scenario delete-records: DeleteRecords, ListOffsets earliest, then a consumer from the start. */
    static void deleteRecords(String bootstrap, String topic) throws Exception {
        produceAll(bootstrap, expected(topic, 19, 90, Driver.pastBase()));
        TopicPartition p0 = new TopicPartition(topic, 0);
        try (Admin a = admin(bootstrap)) {
            long low = a.deleteRecords(Map.of(p0, RecordsToDelete.beforeOffset(12))).lowWatermarks().get(p0).get()
                    .lowWatermark();
            check(low == 12, "DeleteRecords low watermark " + low + ", expected 12");
            long earliest = a.listOffsets(Map.of(p0, OffsetSpec.earliest())).partitionResult(p0).get().offset();
            long latest = a.listOffsets(Map.of(p0, OffsetSpec.latest())).partitionResult(p0).get().offset();
            check(earliest == 12 && latest == 30, "ListOffsets earliest " + earliest + ", latest " + latest
                    + ", expected 12, 30");
        }
        // Partition 0 now holds 18 records (12..29), the others 30 each.
        List<ConsumerRecord<byte[], byte[]>> got = consume(bootstrap, topic, 78);
        List<ConsumerRecord<byte[], byte[]>> fromP0 = got.stream().filter(r -> r.partition() == 0).toList();
        check(got.size() == 78 && fromP0.size() == 18 && fromP0.get(0).offset() == 12,
                "consumer from earliest: " + got.size() + " records, " + fromP0.size() + " from partition 0"
                        + (fromP0.isEmpty() ? "" : " starting at " + fromP0.get(0).offset()));
        check(Set.copyOf(fromP0.stream().map(ConsumerRecord::offset).toList()).size() == 18, "duplicate offsets");
    }
}
