// Command compat-kafka-go drives the compatibility scenarios with segmentio/kafka-go.
//
//	compat-kafka-go --bootstrap HOST:PORT --scenario ID --topic NAME   one JSON result line
//	compat-kafka-go --versions                                          library versions
package main

import (
	"compatgoclients/internal/driver"

	"github.com/segmentio/kafka-go"
)

var scenarios = map[string]driver.Scenario{
	"metadata-autocreate":          metadataAutocreate,
	"admin-topics":                 adminTopics,
	"produce-consume":              codec(0, 1),
	"codec-gzip":                   codec(kafka.Gzip, 2),
	"codec-snappy":                 codec(kafka.Snappy, 3),
	"codec-lz4":                    codec(kafka.Lz4, 4),
	"codec-zstd":                   codec(kafka.Zstd, 5),
	"max-message-size":             maxMessage,
	"idempotent-producer":          driver.UnsupportedScenario("kafka-go's Writer has no idempotent producer"),
	"consume-earliest-latest":      earliestLatest,
	"offsets-for-times":            offsetsForTimes,
	"empty-partition-eof":          emptyEOF,
	"describe-configs":             describeConfigs,
	"consumer-group-resume":        groupResume,
	"consumer-group-rebalance":     groupRebalance,
	"static-membership":            driver.UnsupportedScenario("kafka-go's Reader has no group.instance.id"),
	"cooperative-rebalance":        driver.UnsupportedScenario("kafka-go's consumer groups are eager only"),
	"consumer-protocol-group":      driver.UnsupportedScenario("kafka-go has no KIP-848 consumer group protocol"),
	"consumer-group-lag":           groupLag,
	"consumer-group-reset-offsets": groupResetOffsets,
	"alter-configs":                alterConfigs,
	"delete-records":               driver.UnsupportedScenario("kafka-go has no DeleteRecords API"),
	"perf-tools":                   driver.UnsupportedScenario("the Kafka CLI perf tools are not part of kafka-go"),
	"dump-log":                     driver.UnsupportedScenario("kafka-dump-log is not part of kafka-go"),
}

func main() {
	driver.Main("kafka-go", []string{"github.com/segmentio/kafka-go"}, scenarios)
}
