// Command compat-sarama drives the compatibility scenarios with IBM/sarama.
//
//	compat-sarama --bootstrap HOST:PORT --scenario ID --topic NAME   one JSON result line
//	compat-sarama --versions                                          library versions
package main

import (
	"compatgoclients/internal/driver"

	"github.com/IBM/sarama"
)

var scenarios = map[string]driver.Scenario{
	"metadata-autocreate":          metadataAutocreate,
	"admin-topics":                 adminTopics,
	"produce-consume":              codec(sarama.CompressionNone, 1),
	"codec-gzip":                   codec(sarama.CompressionGZIP, 2),
	"codec-snappy":                 codec(sarama.CompressionSnappy, 3),
	"codec-lz4":                    codec(sarama.CompressionLZ4, 4),
	"codec-zstd":                   codec(sarama.CompressionZSTD, 5),
	"max-message-size":             maxMessage,
	"idempotent-producer":          idempotent,
	"consume-earliest-latest":      earliestLatest,
	"offsets-for-times":            offsetsForTimes,
	"empty-partition-eof":          emptyEOF,
	"describe-configs":             describeConfigs,
	"consumer-group-resume":        groupResume,
	"consumer-group-rebalance":     groupRebalance,
	"static-membership":            staticMembership,
	"cooperative-rebalance":        cooperativeRebalance,
	"consumer-protocol-group":      driver.UnsupportedScenario("sarama has no KIP-848 consumer group protocol (ConsumerGroupHeartbeat)"),
	"consumer-group-lag":           groupLag,
	"consumer-group-reset-offsets": groupResetOffsets,
	"alter-configs":                alterConfigs,
	"delete-records":               deleteRecords,
	"perf-tools":                   driver.UnsupportedScenario("the Kafka CLI perf tools are not part of sarama"),
	"dump-log":                     driver.UnsupportedScenario("kafka-dump-log is not part of sarama"),
}

func main() {
	driver.Main("sarama", []string{"github.com/IBM/sarama"}, scenarios)
}
