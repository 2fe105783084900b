'use strict'
// What the kafkajs scenarios share: the command line, the one-line JSON result, the expected
// records, checks and polling with deadlines.

/** Partitions of every scenario topic (the runner sets num.partitions). */
const PARTITIONS = 3
/** Records per produce/consume scenario. */
const RECORDS = 300

/** A check that did not hold; the message says which. */
class ScenarioFailed extends Error {}
/** The library cannot express the scenario; the message says why. */
class Unsupported extends Error {}

function check (cond, what) {
  if (!cond) throw new ScenarioFailed(what)
}

/** A small deterministic PRNG (mulberry32): the same seed gives the same bytes on every run. */
function rng (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A base timestamp ten minutes back, so no broker rejects it as from the future. */
function pastBase () {
  return Date.now() - 600000
}

/**
 * Deterministic keyed records with headers (a duplicate key included) and explicit
 * timestamps: {partition, key, value, headers: [[key, Buffer]], timestamp}.
 */
function expected (seed, count = RECORDS, base = pastBase()) {
  const next = rng(seed)
  const out = []
  for (let i = 0; i < count; i++) {
    const value = Buffer.alloc(Math.floor(next() * 300))
    for (let j = 0; j < value.length; j++) value[j] = Math.floor(next() * 256)
    out.push({
      partition: i % PARTITIONS,
      key: Buffer.from(`key-${String(i).padStart(6, '0')}`),
      value,
      headers: [['trace', Buffer.from(String(i))], ['bin', Buffer.from([0, 255, i % 256])],
        ['dup', Buffer.from('first')], ['dup', Buffer.from('second')]],
      timestamp: base + i
    })
  }
  return out
}

/** Checks got holds exactly want, in order within each partition, byte for byte. */
function compare (want, got) {
  check(got.length === want.length, `consumed ${got.length} records, expected ${want.length}`)
  for (let p = 0; p < PARTITIONS; p++) {
    const w = want.filter(r => r.partition === p)
    const h = got.filter(r => r.partition === p).sort((a, b) => a.offset - b.offset)
    check(h.length === w.length, `partition ${p}: ${h.length} records, expected ${w.length}`)
    for (let i = 0; i < w.length; i++) {
      const where = `partition ${p} record ${i}`
      check(h[i].offset === i, `${where}: offset ${h[i].offset}`)
      check(Buffer.compare(h[i].key, w[i].key) === 0, `${where}: key ${h[i].key} != ${w[i].key}`)
      check(Buffer.compare(h[i].value, w[i].value) === 0,
        `${where}: value differs (${h[i].value.length} bytes vs ${w[i].value.length})`)
      check(h[i].timestamp === w[i].timestamp, `${where}: timestamp ${h[i].timestamp} != ${w[i].timestamp}`)
      const hh = JSON.stringify(h[i].headers.map(([k, v]) => [k, v.toString('hex')]))
      const wh = JSON.stringify(w[i].headers.map(([k, v]) => [k, v.toString('hex')]))
      check(hh === wh, `${where}: headers ${hh} != ${wh}`)
    }
  }
}

/** Whether got holds the values of want, in any order. */
function sameValues (want, got) {
  const key = rs => rs.map(r => r.value.toString('hex')).sort().join(',')
  return want.length === got.length && key(want) === key(got)
}

/**
 * Calls cond until it returns without throwing, every 200 ms for up to ms; the error then
 * says what was awaited and why it did not hold the last time.
 */
async function waitFor (what, ms, cond) {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      return await cond()
    } catch (e) {
      if (Date.now() >= deadline) throw new ScenarioFailed(`waited ${ms} ms for ${what}: ${e.message}`)
    }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

function parseArgs (argv) {
  const args = {}
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--versions') args.versions = true
    else if (argv[i].startsWith('--')) args[argv[i].slice(2)] = argv[++i]
  }
  return args
}

function emit (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

/** Runs the scenario named on the command line from scenarios (id -> async fn(bootstrap, topic)). */
async function main (client, versions, scenarios) {
  const args = parseArgs(process.argv.slice(2))
  if (args.versions) {
    emit({ client, versions: versions() })
    return
  }
  const fn = scenarios[args.scenario]
  if (!fn) {
    emit({ scenario: args.scenario, result: 'unsupported', detail: `${client} has no driver for this scenario` })
    return
  }
  const started = Date.now()
  // The runner kills a driver after 90 s; answer before that with what was running.
  const watchdog = setTimeout(() => {
    emit({ scenario: args.scenario, result: 'fail', detail: 'driver timed out after 80 s', seconds: 80 })
    process.exit(1)
  }, 80000)
  watchdog.unref()
  let result = 'pass'
  let detail = ''
  try {
    await fn(args.bootstrap, args.topic)
  } catch (e) {
    if (e instanceof Unsupported) {
      result = 'unsupported'
    } else {
      result = 'fail'
      if (!(e instanceof ScenarioFailed)) process.stderr.write(`${e.stack}\n`)
    }
    detail = e instanceof ScenarioFailed || e instanceof Unsupported ? e.message : `${e.name}: ${e.message}`
  }
  clearTimeout(watchdog)
  // A client left connected on a failure path must not keep the process alive.
  process.stdout.write(JSON.stringify({ scenario: args.scenario, result, detail, seconds: (Date.now() - started) / 1000 }) + '\n',
    () => process.exit(0))
}

module.exports = {
  PARTITIONS, RECORDS, ScenarioFailed, Unsupported, check, expected, pastBase, compare, sameValues,
  waitFor, main
}
