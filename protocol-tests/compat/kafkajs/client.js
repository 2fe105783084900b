'use strict'
// kafkajs set-up shared by the scenarios: the client, codecs, producing and consuming.
const { Kafka, logLevel, CompressionTypes, CompressionCodecs } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const LZ4Codec = require('kafkajs-lz4')
const zstd = require('zstd-napi')
const { waitFor, PARTITIONS } = require('./common')

CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec
// kafkajs ships no zstd codec and the published adapters do not load on Node 20: a codec is
// just a compress/decompress pair, here over zstd-napi (zstd built from source at install).
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  compress: async encoder => new zstd.Compressor().compress(encoder.buffer),
  decompress: async buffer => new zstd.Decompressor().decompress(buffer)
})

function kafka (bootstrap) {
  return new Kafka({
    clientId: 'compat-kafkajs',
    brokers: [bootstrap],
    logLevel: process.env.COMPAT_DEBUG ? logLevel.DEBUG : logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries: 8 }
  })
}

/** Runs fn(admin) with a connected admin client. */
async function withAdmin (bootstrap, fn) {
  const admin = kafka(bootstrap).admin()
  await admin.connect()
  try {
    return await fn(admin)
  } finally {
    await admin.disconnect()
  }
}

function toMessage (r) {
  const headers = {}
  for (const [k, v] of r.headers) {
    // kafkajs sends an array value as one header per element, in order.
    if (k in headers) headers[k] = [].concat(headers[k], v)
    else headers[k] = v
  }
  return { partition: r.partition, key: r.key, value: r.value, headers, timestamp: String(r.timestamp) }
}

function fromMessage (partition, m) {
  const headers = []
  for (const [k, v] of Object.entries(m.headers || {})) {
    for (const one of [].concat(v)) headers.push([k, one])
  }
  return {
    partition,
    offset: Number(m.offset),
    key: m.key,
    value: m.value || Buffer.alloc(0),
    headers,
    timestamp: Number(m.timestamp)
  }
}

/**
 * kafkajs's admin asks for metadata without allow_auto_topic_creation; a consumer's subscribe
 * asks with it (allowAutoTopicCreation is on by default).
 */
async function autoCreate (bootstrap, topic) {
  const consumer = kafka(bootstrap).consumer({ groupId: `compat-autocreate-${topic}`, allowAutoTopicCreation: true })
  await consumer.connect()
  try {
    // The first answer may still say UNKNOWN_TOPIC_OR_PARTITION while the topic is created.
    await waitFor('the auto-created topic', 15000, () => consumer.subscribe({ topics: [topic] }))
  } finally {
    await consumer.disconnect()
  }
}

/**
 * Produces recs (acks=all) with producer options opts and send options send. The topic is
 * auto-created and its leaders awaited first: kafkajs retries a whole request when some of its
 * partitions fail, which would duplicate the partitions that were written.
 */
async function produce (bootstrap, topic, recs, opts = {}, send = {}) {
  await autoCreate(bootstrap, topic)
  await withAdmin(bootstrap, admin => topicReady(admin, topic))
  const producer = kafka(bootstrap).producer({ allowAutoTopicCreation: true, ...opts })
  await producer.connect()
  try {
    await producer.send({ topic, acks: -1, messages: recs.map(toMessage), ...send })
  } finally {
    await producer.disconnect()
  }
}

/** Consumer settings that make group changes quick to notice. */
const groupTimings = { sessionTimeout: 10000, rebalanceTimeout: 10000, heartbeatInterval: 500, maxWaitTimeInMs: 200 }

/**
 * Reads count records of topic from the start of every partition. kafkajs has no consumer
 * without a group: a group of its own, used once, stands in for an assigned consumer. A
 * rebalance of that group may deliver a record again (at least once): each partition/offset
 * is kept once.
 */
async function consume (bootstrap, topic, count, ms = 30000) {
  const consumer = kafka(bootstrap).consumer({ groupId: `compat-once-${topic}-${Date.now()}`, ...groupTimings })
  const got = []
  const seen = new Set()
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const key = `${partition}/${message.offset}`
        if (!seen.has(key)) got.push(fromMessage(partition, message))
        seen.add(key)
      }
    })
    await waitFor(`${count} records`, ms, () => {
      if (got.length < count) throw new Error(`${got.length} consumed`)
    }).catch(() => {})
  } finally {
    await consumer.disconnect()
  }
  return got
}

/** Waits until the topic's metadata shows every partition with a leader. */
async function topicReady (admin, topic, partitions = PARTITIONS) {
  await waitFor(`${partitions} partitions with leaders`, 15000, async () => {
    const md = await admin.fetchTopicMetadata({ topics: [topic] })
    const ps = md.topics[0].partitions
    if (ps.length !== partitions || ps.some(p => p.leader < 0)) {
      throw new Error(`partitions ${JSON.stringify(ps.map(p => [p.partitionId, p.leader]))}`)
    }
  })
}

module.exports = {
  kafka, withAdmin, produce, consume, fromMessage, groupTimings, topicReady, autoCreate, CompressionTypes
}
