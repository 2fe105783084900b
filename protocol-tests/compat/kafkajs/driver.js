#!/usr/bin/env node
'use strict'
// kafkajs driver of the compatibility scenarios:
//   node driver.js --bootstrap HOST:PORT --scenario ID --topic NAME   one JSON result line
//   node driver.js --versions                                          library versions
const { ConfigResourceTypes } = require('kafkajs')
const {
  PARTITIONS, Unsupported, check, expected, pastBase, compare, sameValues,
  waitFor, main
} = require('./common')
const {
  kafka, withAdmin, produce, consume, fromMessage, groupTimings, topicReady, autoCreate, CompressionTypes
} = require('./client')
const groups = require('./groups')

async function roundTrip (bootstrap, topic, seed, opts = {}, send = {}) {
  const want = expected(seed)
  await produce(bootstrap, topic, want, opts, send)
  compare(want, await consume(bootstrap, topic, want.length))
}

async function metadataAutocreate (bootstrap, topic) {
  await autoCreate(bootstrap, topic)
  await withAdmin(bootstrap, admin => topicReady(admin, topic))
}

async function adminTopics (bootstrap, topic) {
  await withAdmin(bootstrap, async admin => {
    check(await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }] }),
      'createTopics answered false (topic exists)')
    await topicReady(admin, topic, 2)
    await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] })
    await topicReady(admin, topic, 4)
    await admin.deleteTopics({ topics: [topic] })
    await waitFor('the deleted topic to go', 15000, async () => {
      const ts = await admin.listTopics()
      if (ts.includes(topic)) throw new Error('topic still listed')
    })
  })
}

function codec (type, seed) {
  return (b, t) => roundTrip(b, t, seed, {}, { compression: type })
}

/** The Kafka error type of a kafkajs error, looking inside retry wrappers. */
function errorType (e) {
  for (let cur = e; cur; cur = cur.originalError || (cur.errors && cur.errors[0])) {
    if (cur.type) return cur.type
  }
  return e && e.message
}

async function maxMessage (bootstrap, topic) {
  const near = Buffer.alloc(1000000, 'n')
  const producer = kafka(bootstrap).producer({ allowAutoTopicCreation: true, retry: { retries: 1 } })
  await producer.connect()
  try {
    await producer.send({ topic, acks: -1, messages: [{ key: 'near', value: near }] })
    let type = 'no error'
    try {
      await producer.send({ topic, acks: -1, messages: [{ key: 'over', value: Buffer.alloc(1100000, 'o') }] })
    } catch (e) {
      type = errorType(e)
    }
    check(type === 'MESSAGE_TOO_LARGE', `over-max record: ${type}, expected MESSAGE_TOO_LARGE`)
  } finally {
    await producer.disconnect()
  }
  const got = await consume(bootstrap, topic, 1)
  check(got.length === 1 && Buffer.compare(got[0].value, near) === 0, 'near-max record not read back')
}

function idempotent (b, t) {
  return roundTrip(b, t, 7, { idempotent: true, maxInFlightRequests: 1 })
}

async function earliestLatest (bootstrap, topic) {
  await produce(bootstrap, topic, expected(11, 60))
  const early = await consume(bootstrap, topic, 60)
  check(early.length === 60, `earliest: ${early.length} records`)
  const consumer = kafka(bootstrap).consumer({ groupId: `compat-latest-${topic}`, ...groupTimings })
  const got = []
  let fetched = false
  consumer.on(consumer.events.FETCH, () => { fetched = true })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: false })
    await consumer.run({ eachMessage: async ({ partition, message }) => { got.push(fromMessage(partition, message)) } })
    // The first completed fetch means the latest offsets were resolved: later records are new.
    await waitFor('the first fetch', 20000, () => check(fetched, 'no fetch yet'))
    const later = expected(12, 30)
    await produce(bootstrap, topic, later)
    await waitFor('the 30 new records', 20000, () => check(got.length >= 30, `${got.length} records`))
    check(sameValues(later, got), `latest: ${got.length} records, expected the 30 new ones`)
  } finally {
    await consumer.disconnect()
  }
}

async function offsetsForTimes (bootstrap, topic) {
  const base = pastBase()
  await produce(bootstrap, topic, expected(13, 90, base))
  await withAdmin(bootstrap, async admin => {
    const at = await admin.fetchTopicOffsetsByTimestamp(topic, base + 31)
    const p0 = at.find(o => o.partition === 0)
    // Partition 0 holds records 0, 3, 6...: record 33, its 12th (offset 11), is the first
    // with a timestamp >= base+31.
    check(p0 && p0.offset === '11', `partition 0 at base+31: ${JSON.stringify(p0)}, expected 11`)
    // Past the last timestamp kafkajs answers the end offset.
    const future = await admin.fetchTopicOffsetsByTimestamp(topic, base + 10000000)
    const p1 = future.find(o => o.partition === 1)
    check(p1 && p1.offset === '30', `past the last timestamp: ${JSON.stringify(p1)}, expected the end 30`)
    const p2 = (await admin.fetchTopicOffsets(topic)).find(o => o.partition === 2)
    check(p2 && p2.low === '0' && p2.high === '30', `partition 2: ${JSON.stringify(p2)}, expected 0,30`)
  })
}

async function emptyEOF (bootstrap, topic) {
  await autoCreate(bootstrap, topic)
  await withAdmin(bootstrap, async admin => {
    await topicReady(admin, topic)
    const offs = await admin.fetchTopicOffsets(topic)
    check(offs.length === PARTITIONS && offs.every(o => o.low === '0' && o.high === '0'),
      `offsets ${JSON.stringify(offs)}`)
  })
  const consumer = kafka(bootstrap).consumer({ groupId: `compat-eof-${topic}`, ...groupTimings })
  const got = []
  let fetches = 0
  let crashed = null
  consumer.on(consumer.events.FETCH, () => { fetches++ })
  consumer.on(consumer.events.CRASH, e => { crashed = e.payload.error })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({ eachMessage: async ({ partition, message }) => { got.push(fromMessage(partition, message)) } })
    // kafkajs reports no end of partition: a few completed fetches with nothing stand for it.
    await waitFor('three fetches', 20000, () => check(fetches >= 3 || crashed, `${fetches} fetches`))
    check(!crashed, `consumer crashed: ${crashed}`)
    check(got.length === 0, `${got.length} records came out of an empty topic`)
  } finally {
    await consumer.disconnect()
  }
}

/** Describes topic's configs: {name: {value, source}}. */
async function topicConfigs (admin, topic) {
  return waitFor('DescribeConfigs of the topic', 15000, async () => {
    const res = await admin.describeConfigs({ includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] })
    const out = {}
    for (const e of res.resources[0].configEntries) out[e.configName] = { value: e.configValue, source: e.configSource }
    return out
  })
}

/** DescribeConfigs sources (v1+). */
const SOURCE_TOPIC = 1
const SOURCE_DEFAULT = 5

async function describeConfigs (bootstrap, topic) {
  await withAdmin(bootstrap, async admin => {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1,
      configEntries: [{ name: 'retention.ms', value: '3600000' }] }] })
    const c = await topicConfigs(admin, topic)
    const rm = c['retention.ms'] || {}
    const cp = c['cleanup.policy'] || {}
    check(rm.value === '3600000' && rm.source === SOURCE_TOPIC, `retention.ms ${JSON.stringify(rm)}`)
    check(cp.value === 'delete' && cp.source === SOURCE_DEFAULT, `cleanup.policy ${JSON.stringify(cp)}`)
  })
}

/**
 * kafkajs has no IncrementalAlterConfigs: its alterConfigs (AlterConfigs) replaces the topic's
 * whole set of overrides, so SET is an entry and DELETE is leaving the entry out.
 */
async function alterConfigs (bootstrap, topic) {
  await withAdmin(bootstrap, async admin => {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] })
    await topicConfigs(admin, topic)
    const alter = entries => admin.alterConfigs({ validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: entries }] })
    // A broker applies config changes through its metadata log: describe until they show.
    const shows = (what, ok) => waitFor(what, 10000, async () => {
      const c = await topicConfigs(admin, topic)
      check(ok(c['retention.ms'], c['cleanup.policy']), JSON.stringify([c['retention.ms'], c['cleanup.policy']]))
    })
    await alter([{ name: 'retention.ms', value: '7200000' }, { name: 'cleanup.policy', value: 'compact' }])
    await shows('retention.ms=7200000 and cleanup.policy=compact as topic overrides', (rm, cp) =>
      rm.value === '7200000' && rm.source === SOURCE_TOPIC && cp.value === 'compact' && cp.source === SOURCE_TOPIC)
    await alter([{ name: 'cleanup.policy', value: 'compact' }])
    await shows('retention.ms back to its default, cleanup.policy=compact', (rm, cp) =>
      rm.value === '604800000' && rm.source === SOURCE_DEFAULT && cp.value === 'compact')
    let type = 'no error'
    try {
      await alter([{ name: 'retention.ms', value: 'not-a-number' }])
    } catch (e) {
      type = errorType(e)
    }
    check(type === 'INVALID_CONFIG', `invalid value: ${type}, expected INVALID_CONFIG`)
  })
}

async function deleteRecords (bootstrap, topic) {
  await produce(bootstrap, topic, expected(37, 90))
  await withAdmin(bootstrap, async admin => {
    await topicReady(admin, topic) // also loads the metadata deleteTopicRecords needs
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '10' }, { partition: 1, offset: '20' }] })
    const offs = await admin.fetchTopicOffsets(topic)
    const low = Object.fromEntries(offs.map(o => [o.partition, o.low]))
    check(low[0] === '10' && low[1] === '20' && low[2] === '0', `earliest offsets ${JSON.stringify(low)}, expected 10, 20, 0`)
  })
  const got = await consume(bootstrap, topic, 60)
  const first = [30, 30, 30]
  for (const r of got) first[r.partition] = Math.min(first[r.partition], r.offset)
  check(got.length === 60 && first.join() === '10,20,0',
    `consumer from earliest: ${got.length} records starting at ${first}, expected 60 from 10, 20, 0`)
}

function unsupported (why) {
  return async () => { throw new Unsupported(why) }
}

const scenarios = {
  'metadata-autocreate': metadataAutocreate,
  'admin-topics': adminTopics,
  'produce-consume': codec(CompressionTypes.None, 1),
  'codec-gzip': codec(CompressionTypes.GZIP, 2),
  'codec-snappy': codec(CompressionTypes.Snappy, 3),
  'codec-lz4': codec(CompressionTypes.LZ4, 4),
  'codec-zstd': codec(CompressionTypes.ZSTD, 5),
  'max-message-size': maxMessage,
  'idempotent-producer': idempotent,
  'consume-earliest-latest': earliestLatest,
  'offsets-for-times': offsetsForTimes,
  'empty-partition-eof': emptyEOF,
  'describe-configs': describeConfigs,
  'consumer-group-resume': groups.resume,
  'consumer-group-rebalance': groups.rebalance,
  'static-membership': unsupported('kafkajs has no group.instance.id (static membership)'),
  'cooperative-rebalance': unsupported('kafkajs has no cooperative rebalance protocol'),
  'consumer-protocol-group': unsupported('kafkajs has no KIP-848 consumer group protocol'),
  'consumer-group-lag': groups.lag,
  'consumer-group-reset-offsets': groups.resetOffsets,
  'alter-configs': alterConfigs,
  'delete-records': deleteRecords,
  'perf-tools': unsupported('the Kafka CLI perf tools are not part of kafkajs'),
  'dump-log': unsupported('kafka-dump-log is not part of kafkajs')
}

function versions () {
  const v = n => require(`${n}/package.json`).version
  return { node: process.versions.node, kafkajs: v('kafkajs'), 'kafkajs-snappy': v('kafkajs-snappy'),
    'kafkajs-lz4': v('kafkajs-lz4'), 'zstd-napi': v('zstd-napi') }
}

main('kafkajs', versions, scenarios)
