'use strict'
// The kafkajs consumer-group scenarios.
const { AssignerProtocol, PartitionAssigners } = require('kafkajs')
const { PARTITIONS, check, expected, pastBase, waitFor } = require('./common')
const { kafka, withAdmin, produce, groupTimings } = require('./client')

const groupOf = topic => `compat-${topic}`

/**
 * A group member consuming topic in the background: each record is counted in seen
 * ("partition/offset" -> times processed) and its offset committed (commitOffsets, awaited)
 * before the next one. With a cut, records at or past cut[partition] are neither counted nor
 * committed. eachBatch when batch is set, eachMessage otherwise.
 */
async function member (bootstrap, topic, seen, { cut = null, batch = false, assigner = null } = {}) {
  const consumer = kafka(bootstrap).consumer({
    groupId: groupOf(topic),
    ...groupTimings,
    ...(assigner ? { partitionAssigners: [assigner] } : {})
  })
  const state = { consumer, crashed: null }
  consumer.on(consumer.events.CRASH, e => { state.crashed = e.payload.error })
  const handle = async (partition, message) => {
    const offset = Number(message.offset)
    if (cut && offset >= cut[partition]) return
    const key = `${partition}/${offset}`
    seen[key] = (seen[key] || 0) + 1
    await consumer.commitOffsets([{ topic, partition, offset: String(offset + 1) }])
  }
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const run = batch
    ? {
        eachBatchAutoResolve: true,
        eachBatch: async ({ batch: b, resolveOffset, heartbeat, isRunning, isStale }) => {
          for (const m of b.messages) {
            if (!isRunning() || isStale()) break
            await handle(b.partition, m)
            resolveOffset(m.offset)
            await heartbeat()
          }
        }
      }
    : { eachMessage: ({ partition, message }) => handle(partition, message) }
  await consumer.run({ autoCommit: false, ...run })
  return state
}

function processed (seen) {
  return Object.values(seen).reduce((a, b) => a + b, 0)
}

async function waitProcessed (seen, want, ...members) {
  await waitFor(`${want} records processed`, 30000, () => {
    for (const m of members) check(!m.crashed, `member crashed: ${m.crashed}`)
    check(processed(seen) >= want, `${processed(seen)} processed`)
  })
}

/**
 * Waits until DescribeGroups shows a Stable group of `members` members with non-empty,
 * disjoint assignments covering every partition.
 */
async function settled (admin, topic, members) {
  await waitFor(`a stable group of ${members} covering every partition`, 30000, async () => {
    const { groups } = await admin.describeGroups([groupOf(topic)])
    const g = groups[0]
    const each = g.members.map(m => {
      const a = AssignerProtocol.MemberAssignment.decode(m.memberAssignment)
      return (a && a.assignment[topic]) || []
    })
    const all = each.flat().sort()
    check(g.state === 'Stable' && g.members.length === members && each.every(ps => ps.length > 0) &&
      all.join() === '0,1,2', `group ${g.state} with assignments ${JSON.stringify(each)}`)
  })
}

/** Checks every one of perPartition offsets of each partition was processed exactly once. */
function exactlyOnce (seen, perPartition) {
  for (let p = 0; p < PARTITIONS; p++) {
    for (let o = 0; o < perPartition; o++) {
      const n = seen[`${p}/${o}`] || 0
      check(n === 1, `partition ${p} offset ${o} processed ${n} times`)
    }
  }
  check(Object.keys(seen).length === PARTITIONS * perPartition, `${Object.keys(seen).length} distinct records processed`)
}

async function resume (bootstrap, topic) {
  await produce(bootstrap, topic, expected(17, 90))
  const first = {}
  const a = await member(bootstrap, topic, first, { cut: [15, 15, 15] })
  try {
    await waitProcessed(first, 45, a)
  } finally {
    await a.consumer.disconnect()
  }
  const rest = {}
  const b = await member(bootstrap, topic, rest, { batch: true })
  try {
    await waitProcessed(rest, 45, b)
  } finally {
    await b.consumer.disconnect()
  }
  for (const [k, n] of Object.entries(rest)) {
    check(Number(k.split('/')[1]) >= 15 && n === 1, `resumed member processed ${k} ${n} times`)
  }
  check(processed(rest) === 45, `resumed member processed ${processed(rest)}, expected 45`)
}

async function rebalance (bootstrap, topic) {
  await produce(bootstrap, topic, expected(19, 90))
  const seen = {}
  const opts = { assigner: PartitionAssigners.roundRobin }
  const a = await member(bootstrap, topic, seen, opts)
  const b = await member(bootstrap, topic, seen, opts)
  try {
    await withAdmin(bootstrap, async admin => {
      await settled(admin, topic, 2)
      await waitProcessed(seen, 90, a, b)
      await a.consumer.disconnect()
      await settled(admin, topic, 1)
    })
    await produce(bootstrap, topic, expected(20, 90))
    await waitProcessed(seen, 180, b)
    exactlyOnce(seen, 60)
  } finally {
    await a.consumer.disconnect()
    await b.consumer.disconnect()
  }
}

async function lag (bootstrap, topic) {
  await produce(bootstrap, topic, expected(29, 90))
  const cut = [10, 20, 5]
  const seen = {}
  const m = await member(bootstrap, topic, seen, { cut })
  try {
    await waitProcessed(seen, 35, m)
  } finally {
    await m.consumer.disconnect()
  }
  await withAdmin(bootstrap, async admin => {
    const [committed] = await admin.fetchOffsets({ groupId: groupOf(topic), topics: [topic] })
    const ends = await admin.fetchTopicOffsets(topic)
    for (let p = 0; p < PARTITIONS; p++) {
      const c = Number(committed.partitions.find(x => x.partition === p).offset)
      const e = Number(ends.find(x => x.partition === p).high)
      check(c === cut[p] && e - c === 30 - cut[p],
        `partition ${p}: committed ${c} end ${e} lag ${e - c}, expected ${cut[p]}, 30, ${30 - cut[p]}`)
    }
  })
}

async function resetOffsets (bootstrap, topic) {
  const base = pastBase()
  await produce(bootstrap, topic, expected(31, 90, base))
  const all = {}
  const m = await member(bootstrap, topic, all)
  try {
    await waitProcessed(all, 90, m)
  } finally {
    await m.consumer.disconnect()
  }
  await withAdmin(bootstrap, async admin => {
    const groupId = groupOf(topic)
    // Partition 2 holds records 2, 5, 8...: record 50, its 17th (offset 16), is the first
    // with a timestamp >= base+50.
    const byTime = (await admin.fetchTopicOffsetsByTimestamp(topic, base + 50)).find(o => o.partition === 2)
    check(byTime.offset === '16', `offset by timestamp ${byTime.offset}, expected 16`)
    await admin.resetOffsets({ groupId, topic, earliest: true })
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 1, offset: '12' }, { partition: 2, offset: byTime.offset }] })
  })
  const seen = {}
  const n = await member(bootstrap, topic, seen, { batch: true })
  try {
    await waitProcessed(seen, 30 + 18 + 14, n)
  } finally {
    await n.consumer.disconnect()
  }
  const first = [30, 30, 30]
  for (const k of Object.keys(seen)) {
    const [p, o] = k.split('/').map(Number)
    first[p] = Math.min(first[p], o)
  }
  check(first.join() === '0,12,16' && processed(seen) === 62,
    `new member started at ${first} with ${processed(seen)} records, expected 0,12,16 and 62`)
}

module.exports = { resume, rebalance, lag, resetOffsets }
