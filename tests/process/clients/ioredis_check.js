// ioredis (from npm, pinned in package.json) against a real raftkv cluster of five nodes: the
// same three checks as redis_py_check.py, with ioredis' Redis and Cluster clients.
// Run by tests/process/redis_clients_test.cc:
//   node ioredis_check.js --node ID=HOST:PORT=PID ... --leader ID
// Exits 0 when every check passed, 1 with the failed check otherwise.
"use strict";
const Redis = require("ioredis");

const TIMEOUT_MS = 15000;

function log(...parts) {
  console.log(...parts);
}

function check(condition, what) {
  if (!condition) throw new Error("check failed: " + what);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function parseArgs(argv) {
  const nodes = [];
  let leader = 0;
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === "--node") {
      const [id, address, pid] = argv[i + 1].split("=");
      const colon = address.lastIndexOf(":");
      nodes.push({ id: Number(id), host: address.slice(0, colon),
                   port: Number(address.slice(colon + 1)), pid: Number(pid), alive: true });
    } else if (argv[i] === "--leader") {
      leader = Number(argv[i + 1]);
    }
  }
  return { nodes, leader: nodes.find((n) => n.id === leader) };
}

function client(node) {
  return new Redis({ host: node.host, port: node.port, commandTimeout: TIMEOUT_MS,
                     maxRetriesPerRequest: 0, lazyConnect: false });
}

async function infoField(node, section, field) {
  const r = client(node);
  try {
    const text = await r.info(section);
    const line = text.split("\r\n").find((l) => l.startsWith(field + ":"));
    return line ? line.slice(field.length + 1) : undefined;
  } finally {
    r.disconnect();
  }
}

async function waitForLeader(nodes, among) {
  const deadline = Date.now() + TIMEOUT_MS;
  while (Date.now() < deadline) {
    for (const node of among) {
      try {
        const leader = Number(await infoField(node, "raft", "leader_id"));
        const found = among.find((n) => n.id === leader);
        if (found) return found;
      } catch (error) {
        // Not answering yet: ask the next one.
      }
    }
    await sleep(50);
  }
  throw new Error("no leader among " + among.map((n) => n.id) + " within " + TIMEOUT_MS + " ms");
}

// Connect, pipeline, WATCH, expiry, hashes, SCAN, CLIENT through `node`.
async function basics(node, label, other) {
  const r = client(node);
  const p = "io:" + label + ":";
  check((await r.ping()) === "PONG", "PING");
  const piped = await r.pipeline().set(p + "n", 1).incr(p + "n").get(p + "n").exec();
  check(JSON.stringify(piped) === JSON.stringify([[null, "OK"], [null, 2], [null, "2"]]),
        "pipeline replies " + JSON.stringify(piped));
  await r.watch(p + "n");
  const applied = await r.multi().set(p + "n", 3).exec();
  check(JSON.stringify(applied) === JSON.stringify([[null, "OK"]]), "WATCHed EXEC applied");
  await r.watch(p + "n");
  await other.incr(p + "n");
  const refused = await r.multi().set(p + "n", 0).exec();
  check(refused === null && (await r.get(p + "n")) === "4", "WATCHed EXEC refused after a change");
  check((await r.set(p + "e", "v", "PX", 300)) === "OK", "SET PX");
  const left = await r.pttl(p + "e");
  check(left > 0 && left <= 300, "PTTL " + left);
  await sleep(400);
  check((await r.get(p + "e")) === null && (await r.exists(p + "e")) === 0, "expired key gone");
  check((await r.hset(p + "h", "a", "1", "b", "2")) === 2, "HSET");
  // Fields come in hash order (Redis promises none): compare them sorted.
  const fields = Object.entries(await r.hgetall(p + "h")).sort();
  check(JSON.stringify(fields) === JSON.stringify([["a", "1"], ["b", "2"]]), "HGETALL");
  const [, keys] = await r.scan("0", "MATCH", p + "*", "COUNT", 1000);
  check(keys.includes(p + "h"), "SCAN");
  await r.client("SETNAME", "io-" + label);
  check((await r.client("GETNAME")) === "io-" + label, "CLIENT GETNAME");
  check((await r.client("LIST")).includes("name=io-" + label + " "), "CLIENT LIST");
  r.disconnect();
  log("basics through node " + node.id + " (" + label + "): ok");
}

async function incrCalls(nodes) {
  const counts = {};
  for (const node of nodes.filter((n) => n.alive)) {
    let calls = 0;
    for (const name of ["incr", "incrby"]) {
      const stat = await infoField(node, "commandstats", "cmdstat_" + name);
      if (stat) calls += Number(/calls=(\d+)/.exec(stat)[1]);
    }
    counts[node.id] = calls;
  }
  return counts;
}

function cluster(startup) {
  // slotsRefreshInterval: long, so that the map stays as it was when leadership moves (the
  // point of the check); the failover below needs no periodic refresh either.
  return new Redis.Cluster([{ host: startup.host, port: startup.port }],
                           { slotsRefreshInterval: 600000,
                             redisOptions: { commandTimeout: TIMEOUT_MS } });
}

// A Cluster client whose INCR reaches a follower whose forward is lost: UNCERTAIN, once.
async function uncertainNotResent(nodes, leader) {
  const stale = leader;
  const follower = nodes.find((n) => n.id !== leader.id);
  const rc = cluster(follower);
  check((await rc.set("io:counter", 0)) === "OK", "SET through Cluster");
  check(rc.nodes("master").map((n) => n.options.port)[0] === stale.port, "Cluster found leader");
  process.kill(stale.pid, "SIGSTOP");
  const newLeader = await waitForLeader(nodes, nodes.filter((n) => n !== stale));
  process.kill(stale.pid, "SIGCONT");
  while (Number(await infoField(stale, "raft", "leader_id")) !== newLeader.id) await sleep(50);
  log("leadership moved from node " + stale.id + " to node " + newLeader.id +
      "; the client still names " + stale.id);
  process.kill(newLeader.pid, "SIGSTOP");
  newLeader.alive = false;
  const before = await incrCalls(nodes);
  const killer = sleep(500).then(() => process.kill(newLeader.pid, "SIGKILL"));
  let outcome = "ok";
  try {
    await rc.incr("io:counter");
  } catch (error) {
    outcome = error.message;
  }
  await killer;
  const after = await incrCalls(nodes);
  const sent = Object.keys(after).reduce((sum, id) => sum + after[id] - (before[id] || 0), 0);
  log("INCR answered " + JSON.stringify(outcome) + "; INCR commands received by live nodes: " +
      sent);
  check(outcome.startsWith("UNCERTAIN"), "the lost forward is answered UNCERTAIN");
  check(sent === 1, "the client sent the INCR once (not re-sent)");
  rc.disconnect();
  const survivor = await waitForLeader(nodes, nodes.filter((n) => n.alive));
  const r = client(survivor);
  const value = Number(await r.get("io:counter"));
  r.disconnect();
  log("counter after the failover: " + value + " (leader now node " + survivor.id + ")");
  check(value === 0 || value === 1, "applied at most once");
  return survivor;
}

// A Cluster client keeps writing while the leader is killed with -9.
async function failover(nodes, leader) {
  const follower = nodes.find((n) => n.alive && n !== leader);
  const rc = cluster(follower);
  let acked = 0;
  for (let i = 0; i < 20; i++, acked++) await rc.incr("io:failover");
  process.kill(leader.pid, "SIGKILL");
  leader.alive = false;
  const killedAt = Date.now();
  let firstAfterMs = -1;
  for (let i = 0; i < 20; i++, acked++) {
    await rc.incr("io:failover");  // ioredis re-sends on a dropped connection: at-least-once.
    if (firstAfterMs < 0) firstAfterMs = Date.now() - killedAt;
  }
  const newLeader = await waitForLeader(nodes, nodes.filter((n) => n.alive));
  const r = client(newLeader);
  const value = Number(await r.get("io:failover"));
  r.disconnect();
  const masters = rc.nodes("master").map((n) => n.options.port);
  log("failover: first write acknowledged " + firstAfterMs + " ms after kill -9; " + acked +
      " acked, counter " + value + "; the client's master is now port " + masters +
      " (node " + newLeader.id + " leads)");
  check(masters.length === 1 && masters[0] === newLeader.port, "Cluster follows the new leader");
  check(value >= acked, "every acknowledged INCR applied");
  rc.disconnect();
}

async function main() {
  const { nodes, leader } = parseArgs(process.argv.slice(2));
  const follower = nodes.find((n) => n !== leader);
  const toFollower = client(follower);
  const toLeader = client(leader);
  await basics(leader, "leader", toFollower);
  await basics(follower, "follower", toLeader);
  toFollower.disconnect();
  toLeader.disconnect();
  const survivor = await uncertainNotResent(nodes, leader);
  await failover(nodes, survivor);
  log("ioredis: all checks passed");
}

main().then(() => process.exit(0), (error) => {
  log("FAILED:", error.message);
  process.exit(1);
});
