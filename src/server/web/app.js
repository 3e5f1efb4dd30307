// The web view of a raftkv cluster (docs/web.md): plain JavaScript and SVG, no library.
//
// Every node streams its own events (GET /events, Server-Sent Events; the schema is in
// src/server/event_feed.h). The page learns the members from the node that served it
// (/status: their HTTP addresses) and from each stream's hello, and reads all of them, so it
// keeps working when the node that served it dies. With ?control=HOST:PORT&token=T in its URL
// (printed by `raftkv cluster start --web`) it also shows controls that act on a local cluster.
//
// Served over HTTPS, it reads the other nodes over HTTPS too. When the nodes want an HTTP token
// (--http-token, docs/security.md), the page takes it from its URL's fragment (#token=..., which
// a browser never sends to a server, so it stays out of every log), or asks for it once, keeps
// it for this tab only, and sends it as `Authorization: Bearer` on every request. The streams
// are therefore read with fetch(), not EventSource, which cannot send a header; a cookie could
// carry it instead, but cookies are shared by every port of a host and ride along on any
// request another site makes, where a header is sent only by this page's own code.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
// No event for this long (a node sends its status ten times a second): not answering. Long
// enough that a node merely slowed by a loaded machine is not reported gone.
const STALE_MS = 2500;
const FLIGHT_MS = 450;        // How long a drawn message takes to cross (slowed to be seen).
const FLIGHTS_MAX = 150;      // Messages drawn at once; more are counted, not drawn.
const LOG_ENTRIES_SHOWN = 24;
const HISTORY_S = 60;         // Timeline and sparklines.
const NARRATION_MAX = 60;
const WRITES_NARRATED_PER_S = 3;  // Above this, writes are summed up, not told one by one.
const LABELS_MAX = 20;        // Past this many messages in flight, only votes get labels.

const params = new URLSearchParams(location.search);
const control = params.get('control');
const token = params.get('token') || '';  // The local cluster's control token, not the nodes'.
const SCHEME = location.protocol === 'https:' ? 'https' : 'http';
const TOKEN_KEY = 'raftkv-http-token';
const RECONNECT_MS = 1000;

const view = {
  nodes: new Map(),      // id -> node model (see addNode)
  flights: [],           // messages being drawn
  notDrawn: 0,           // messages dropped by the page's own cap
  timeline: [],          // {t, text} leader changes
  throughput: [],        // [t, value]
  latency: [],
  control: null,         // the last /api/state, when a controller is present
  writes: [],            // recent entries being followed for narration
  followedUpTo: 0,       // the newest index already narrated (or known before)
  recentEntries: [],     // times the leader appended entries, the last second's
  busySince: 0,          // writes are being summed up since then (0: told one by one)
  lastLeader: null,      // {id, term}
  // The membership, as the leader (else the node heard from last) applied it; changes seen.
  members: {voters: [], learners: [], pending: false, index: 0},
  changesSeen: new Set(),  // indexes of membership changes already told
  httpToken: takeToken(),
};

// ---- The nodes' HTTP token ----

function takeToken() {
  const given = new URLSearchParams(location.hash.slice(1)).get('token');
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    // Off the address bar, so that neither a screenshot nor a copied link shows it.
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

function authHeaders() {
  return view.httpToken ? {Authorization: `Bearer ${view.httpToken}`} : {};
}

// A node answered 401: show the form, once, whatever number of streams were refused.
function askToken(why) {
  const form = document.getElementById('token-form');
  if (!form.hidden) return;
  setText(document.getElementById('token-why'), why);
  form.hidden = false;
  document.getElementById('token-input').focus();
}

function useToken(event) {
  event.preventDefault();
  view.httpToken = document.getElementById('token-input').value.trim();
  sessionStorage.setItem(TOKEN_KEY, view.httpToken);
  document.getElementById('token-form').hidden = true;
  discover();  // The streams retry by themselves, with the new token.
}

function nodeFetch(http, path) {
  return fetch(`${SCHEME}://${http}${path}`, {headers: authHeaders(), cache: 'no-store'});
}

function sleep(ms) {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

// ---- Small helpers ----

function el(tag, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

function html(tag, attrs = {}, text = '') {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

function termColour(term) {
  return `hsl(${(term * 67) % 360}, 55%, 45%)`;
}

function listNodes(ids) {
  const names = ids.map((id) => String(id));
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

function clock(t) {
  return new Date(t).toLocaleTimeString([], {hour12: false});
}

// ---- Narration: what just happened, in plain words ----

// Newest first, in the order things happened: each node's events carry its own clock, and
// the streams of different nodes arrive in their own order.
function narrate(text, t = Date.now()) {
  const list = document.getElementById('narration');
  const item = html('li', {'data-t': t});
  item.appendChild(html('time', {}, clock(t)));
  item.appendChild(document.createTextNode(text));
  let before = list.firstChild;
  while (before && Number(before.dataset.t) > t) before = before.nextSibling;
  list.insertBefore(item, before);
  while (list.children.length > NARRATION_MAX) list.removeChild(list.lastChild);
}

// ---- Nodes and their streams ----

function addNode(id, http) {
  id = Number(id);
  if (!id || !http) return;
  const known = view.nodes.get(id);
  if (known) return;
  const node = {
    id, http, source: null, open: false, lastEventAt: 0, closedAt: 0, everSeen: false,
    state: 'down',
    tickMs: 10, electionMs: 1000, heartbeatMs: 100,
    status: null, statusAt: 0,
    role: 'follower', term: 0, leader: 0,
    log: new Map(),       // index -> term, newest LOG_ENTRIES_SHOWN * 2 kept
    commit: 0, applied: 0, last: 0,
    stats: null,          // the latest stats event
    roles: [],            // timeline segments {from, to, role, term}
    votesFor: new Map(),  // term -> Set of voters that granted this node their vote
    appendedAt: new Map(),  // index -> time this node appended it (for write narration)
  };
  view.nodes.set(id, node);
  layoutNodes();
  connect(node);
}

// Reads the node's stream for as long as the page lives, reconnecting a second after it
// breaks, as EventSource would.
async function connect(node) {
  for (;;) {
    try {
      const response = await nodeFetch(node.http, '/events');
      if (response.status === 401) {
        askToken(`node ${node.id}: ${(await response.text()).trim()}`);
      } else if (response.ok) {
        node.open = true;
        await readEvents(response.body, (data) => {
          node.lastEventAt = Date.now();
          handle(node, JSON.parse(data));
        });
      }
    } catch (error) {
      // Refused or broken: the node is down or unreachable; told by its state below.
    }
    if (node.open) node.closedAt = Date.now();
    node.open = false;
    await sleep(RECONNECT_MS);
  }
}

// Server-Sent Events: blocks separated by a blank line; a block's `data:` lines are its event.
async function readEvents(body, onData) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer += value;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const data = buffer.slice(0, end).split('\n').filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart()).join('\n');
      buffer = buffer.slice(end + 2);
      if (data) onData(data);
    }
  }
}

function handle(node, event) {
  switch (event.kind) {
    case 'hello': return onHello(node, event);
    case 'status': return onStatus(node, event);
    case 'role': return onRole(node, event);
    case 'msg': return onMessage(node, event);
    case 'append': return onAppend(node, event.runs, event.t);
    case 'progress': return onProgress(node, event);
    case 'stats': return onStats(node, event);
    case 'membership': return onMembership(node, event);
    case 'gap': return undefined;  // Missed events: the next status event resynchronises.
    default: return undefined;
  }
}

function onHello(node, event) {
  node.tickMs = event.tick_ms;
  node.electionMs = event.election_ms;
  node.heartbeatMs = event.heartbeat_ms;
  for (const [id, http] of Object.entries(event.http)) addNode(id, http);
  node.log.clear();
  // Entries from before the page connected are shown, not narrated as new writes.
  for (const [index] of event.log) view.followedUpTo = Math.max(view.followedUpTo, index);
  onAppend(node, event.log.map(([index, term]) => [index, index, term]), event.t);
  if (event.status.role) onStatus(node, event.status);
  if (!node.everSeen) {
    node.everSeen = true;
  } else {
    narrate(`node ${node.id} is answering again (term ${event.status.term || 0}).`);
  }
  for (const past of event.history) {
    if (past.kind === 'membership') onMembership(node, past); else recordRole(node, past);
  }
}

function onStatus(node, status) {
  node.status = status;
  node.statusAt = Date.now();
  node.term = status.term;
  node.leader = status.leader;
  node.commit = status.commit;
  node.applied = status.applied;
  node.last = status.last;
  if (node.role !== status.role) node.role = status.role;
  noteMembers(node, status);
  // Entries a snapshot replaced, or a suffix the leader overwrote, leave the view.
  for (const index of node.log.keys()) {
    if (index < status.first || index > status.last) node.log.delete(index);
  }
  extendRole(node, status.role, status.term);
}

// ---- Membership: voters, learners and their changes ----

function noteMembers(node, status) {
  if (!status.voters) return;
  const leader = view.nodes.get(node.leader);
  // The leader's view is the newest; a follower's is taken only when no leader answers.
  if (node.role !== 'leader' && leader && leader.state === 'up') return;
  view.members.voters = status.voters;
  view.members.learners = status.learners;
  view.members.pending = Boolean(status.conf_change_pending);
}

const CHANGE_WORDS = {
  'add-learner': (id) => `node ${id} joins as a learner: it receives the log but does not vote ` +
                         'and does not count toward a majority',
  'add-voter': (id) => `node ${id} becomes a voter: majorities now count it`,
  remove: (id) => `node ${id} is removed from the cluster`,
};

// Every member applies the same change at the same index: it is told once.
function onMembership(node, event) {
  view.members.index = Math.max(view.members.index, event.index);
  if (view.changesSeen.has(event.index)) return;
  view.changesSeen.add(event.index);
  const words = (CHANGE_WORDS[event.change] || ((id) => `node ${id}: ${event.change}`))(
      event.member);
  narrate(`${words} (membership change at entry ${event.index}).`, event.t);
  view.timeline.push({t: event.t, kind: 'membership', change: event.change,
                      member: event.member, index: event.index,
                      text: `${event.change} ${event.member}`});
}

function drawMembers() {
  const box = document.getElementById('members');
  const {voters, learners, pending, index} = view.members;
  setAttr(box, 'data-voters', voters.join(','));
  setAttr(box, 'data-learners', learners.join(','));
  setText(box, voters.length === 0 ? '' :
          `voters ${listNodes(voters)}` +
          (learners.length ? ` · learners ${listNodes(learners)}` : ' · no learners') +
          (index ? ` · membership of entry ${index}` : '') +
          (pending ? ' · a change is in progress' : ''));
}

function memberKind(id) {
  if (view.members.learners.includes(id)) return 'learner';
  if (view.members.voters.length && !view.members.voters.includes(id)) return 'removed';
  return 'voter';
}

function recordRole(node, event) {
  extendRole(node, event.role, event.term, event.t);
}

// The timeline keeps one segment per stretch of one role and term.
function extendRole(node, role, term, t = Date.now()) {
  const last = node.roles[node.roles.length - 1];
  if (last && last.role === role && last.term === term) {
    last.to = Math.max(last.to, t);
    return;
  }
  if (last) last.to = Math.max(last.to, t);
  node.roles.push({from: t, to: t, role, term});
  const cutoff = Date.now() - HISTORY_S * 1000;
  while (node.roles.length > 1 && node.roles[0].to < cutoff) node.roles.shift();
}

function onRole(node, event) {
  const previous = node.role;
  node.role = event.role;
  node.term = event.term;
  node.leader = event.leader;
  recordRole(node, event);
  if (event.role === 'pre-candidate') {
    narrate(`node ${node.id} heard from no leader and its election timer ran out; it asks ` +
            `the others whether it could win term ${event.term + 1} (PreVote), without ` +
            'disturbing anyone yet.', event.t);
  } else if (event.role === 'candidate') {
    narrate(`node ${node.id} starts an election for term ${event.term}: it votes for itself ` +
            `and asks the others for their votes.`, event.t);
  } else if (event.role === 'leader') {
    // The voters' answers come on their own streams, possibly a little later than this.
    setTimeout(() => {
      const voters = [...(node.votesFor.get(event.term) || [])].sort();
      const how = voters.length ? ` with the votes of node${voters.length > 1 ? 's' : ''} ` +
                                  `${listNodes(voters)}` : '';
      narrate(`node ${node.id} won the election for term ${event.term}${how}; it now sends ` +
              `heartbeats every ${node.heartbeatMs} ms so that nobody else times out.`,
              event.t);
    }, 300);
    noteLeader(node.id, event.term, event.t);
  } else if (previous === 'leader') {
    narrate(`node ${node.id} is no longer leader (term ${event.term}).`, event.t);
  } else if (event.leader && view.lastLeader?.id !== event.leader) {
    noteLeader(event.leader, event.term, event.t);
  }
}

function noteLeader(id, term, t) {
  if (view.lastLeader && view.lastLeader.id === id && view.lastLeader.term === term) return;
  view.lastLeader = {id, term};
  view.timeline.push({t, text: `node ${id} leads term ${term}`});
}

function onMessage(node, event) {
  if (event.type === 'VoteResponse' && !event.reject) {
    const target = view.nodes.get(event.to);
    if (target) {
      if (!target.votesFor.has(event.term)) target.votesFor.set(event.term, new Set());
      target.votesFor.get(event.term).add(event.from);
    }
    narrate(`node ${event.from} grants node ${event.to} its vote for term ${event.term}.`,
            event.t);
  } else if (event.type === 'VoteResponse') {
    narrate(`node ${event.from} refuses node ${event.to} its vote for term ${event.term} ` +
            '(it already voted, or its own log is more up to date).', event.t);
  }
  launch(event);
}

function onAppend(node, runs, t) {
  for (const [first, last, term] of runs) {
    for (const index of node.log.keys()) if (index >= first) node.log.delete(index);
    for (let index = Math.max(first, last - LOG_ENTRIES_SHOWN * 2 + 1); index <= last; ++index) {
      node.log.set(index, term);
      node.appendedAt.set(index, t);
    }
    node.last = last;
  }
  const keepFrom = node.last - LOG_ENTRIES_SHOWN * 2;
  for (const index of node.log.keys()) if (index <= keepFrom) node.log.delete(index);
  for (const index of node.appendedAt.keys()) if (index <= keepFrom) node.appendedAt.delete(index);
  followWrites(node);
}

function onProgress(node, event) {
  node.commit = event.commit;
  node.applied = event.applied;
  followWrites(node);
}

function onStats(node, event) {
  node.stats = event;
  if (node.role === 'leader') {
    pushPoint(view.throughput, event.t, event.applied_per_s);
    pushPoint(view.latency, event.t, event.commit_latency_ms.avg);
  }
}

function pushPoint(series, t, value) {
  series.push([t, value]);
  while (series.length && series[0][0] < t - HISTORY_S * 1000) series.shift();
}

// ---- Writes: tell how one entry reaches the leader, then every follower ----

// Narrates entries that appear on the leader while writes are few, and follows each until
// every answering node has it and the leader committed it.
function followWrites(node) {
  const leader = view.nodes.get(node.leader);
  if (!leader || leader !== node) return advanceWrites();
  const now = Date.now();
  const fresh = [...leader.appendedAt].filter(([index]) => index > view.followedUpTo);
  view.recentEntries = view.recentEntries.filter((t) => t > now - 1000);
  for (const [index] of fresh) {
    view.followedUpTo = Math.max(view.followedUpTo, index);
    view.recentEntries.push(now);
  }
  if (view.recentEntries.length > WRITES_NARRATED_PER_S) {
    if (!view.busySince) {
      view.busySince = now;
      narrate('many writes are arriving; from now on they are summed up in the chart below, ' +
              'not told one by one.');
    }
    return advanceWrites();
  }
  if (view.busySince && now - view.busySince > 3000) {
    view.busySince = 0;
    narrate(`writes have calmed down; node ${leader.id} leads with ${leader.last} entries.`);
  }
  if (view.busySince) return advanceWrites();
  for (const [index, t] of fresh) {
    view.writes.push({index, term: leader.log.get(index), leader: leader.id, t, told: new Set()});
    narrate(`the leader, node ${leader.id}, appended entry ${index} (term ` +
            `${leader.log.get(index)}) and sends it to its followers.`, t);
  }
  advanceWrites();
}

function advanceWrites() {
  for (const write of view.writes) {
    for (const node of view.nodes.values()) {
      if (node.id === write.leader || write.told.has(node.id) || !node.log.has(write.index)) {
        continue;
      }
      write.told.add(node.id);
      const ms = Math.max(0, (node.appendedAt.get(write.index) || write.t) - write.t);
      narrate(`node ${node.id} has entry ${write.index} too (+${ms} ms).`);
    }
    const leader = view.nodes.get(write.leader);
    if (leader && leader.commit >= write.index && !write.committed) {
      write.committed = true;
      narrate(`entry ${write.index} is committed: a majority stores it, so it survives any ` +
              'minority of crashes.');
    }
  }
  view.writes = view.writes.filter((w) => !w.committed || w.told.size + 1 < answering().length);
  while (view.writes.length > 8) view.writes.shift();
}

function answering() {
  return [...view.nodes.values()].filter((node) => node.state !== 'down' &&
                                                  node.state !== 'stale' &&
                                                  node.state !== 'paused');
}

// ---- Drawing the cluster ----

const positions = new Map();

function layoutNodes() {
  const ids = [...view.nodes.keys()].sort((a, b) => a - b);
  const [cx, cy, radius] = [320, 240, 165];
  ids.forEach((id, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / ids.length;
    positions.set(id, {x: cx + radius * Math.cos(angle), y: cy + radius * Math.sin(angle)});
  });
  drawSkeleton(ids);
}

// Links and node groups are rebuilt only when the membership changes.
function drawSkeleton(ids) {
  const links = document.getElementById('links');
  const nodes = document.getElementById('nodes');
  links.replaceChildren();
  nodes.replaceChildren();
  for (const a of ids) {
    for (const b of ids) {
      if (a >= b) continue;
      const [p, q] = [positions.get(a), positions.get(b)];
      el('line', {class: 'link', id: `link-${a}-${b}`, x1: p.x, y1: p.y, x2: q.x, y2: q.y}, links);
      el('text', {class: 'link-label', id: `link-label-${a}-${b}`, x: (p.x + q.x) / 2,
                  y: (p.y + q.y) / 2 - 6}, links);
    }
  }
  for (const id of ids) {
    const p = positions.get(id);
    const g = el('g', {class: 'node', 'data-node': id, transform: `translate(${p.x},${p.y})`},
                 nodes);
    el('circle', {class: 'timer-track', r: 54}, g);
    el('circle', {class: 'timer-arc', r: 54, transform: 'rotate(-90)'}, g);
    el('circle', {class: 'body', r: 45}, g);
    el('text', {class: 'name', y: -8}, g).textContent = `node ${id}`;
    el('text', {class: 'role', y: 9}, g);
    el('text', {class: 'term', y: 24}, g);
    el('text', {class: 'note', y: 76}, g);
  }
}

function nodeState(node, now) {
  const ctl = view.control?.nodes?.find((n) => n.id === node.id);
  if (ctl && ctl.running === false) return 'down';
  if (ctl && ctl.paused) return 'paused';
  if (!node.open && now - node.lastEventAt > 200) return 'down';
  if (now - node.lastEventAt > STALE_MS) return 'stale';
  if (ctl && ctl.isolated) return 'isolated';
  return 'up';
}

const STATE_WORDS = {
  down: 'not answering', stale: 'not answering', paused: 'paused (SIGSTOP)',
  isolated: 'cut off from its peers', up: '',
};

function drawNodes(now) {
  let leaders = 0;
  for (const node of view.nodes.values()) {
    const g = document.querySelector(`.node[data-node="${node.id}"]`);
    if (!g) continue;
    const state = nodeState(node, now);
    if (state !== node.state) {
      if (node.everSeen && (state === 'down' || state === 'stale') && node.state !== 'down' &&
          node.state !== 'stale') {
        // Told at the moment its stream broke, which comes before what the others did next.
        const since = state === 'down' && node.closedAt ? node.closedAt : node.lastEventAt;
        narrate(`node ${node.id} stopped answering.`, since);
      }
      node.state = state;
    }
    const answeringNow = state === 'up' || state === 'isolated';
    if (answeringNow && node.role === 'leader') ++leaders;
    setAttr(g, 'data-role', node.role);
    setAttr(g, 'data-state', state);
    setAttr(g, 'data-term', node.term);
    const member = memberKind(node.id);
    setAttr(g, 'data-member', member);
    setText(g.querySelector('.role'), answeringNow ? node.role : STATE_WORDS[state]);
    setText(g.querySelector('.term'), `term ${node.term}`);
    const vote = node.status?.vote;
    setText(g.querySelector('.note'), state === 'isolated' ? STATE_WORDS[state]
                                      : member !== 'voter' ? member
                                      : answeringNow && vote ? `voted for node ${vote}` : '');
    drawTimer(g.querySelector('.timer-arc'), node, now, answeringNow);
  }
  const total = view.nodes.size;
  setText(document.getElementById('summary'),
          `${total} nodes, ${leaders === 1 ? 'one leader' : `${leaders} leaders`}` +
          (view.lastLeader ? `, last elected: node ${view.lastLeader.id} in term ` +
                             `${view.lastLeader.term}` : ''));
}

// The ring runs down as the election timer does; a leader's stays full.
function drawTimer(arc, node, now, answeringNow) {
  const circumference = 2 * Math.PI * 54;
  let fraction = 0;
  if (answeringNow && node.status) {
    if (node.role === 'leader') {
      fraction = 1;
    } else {
      const ticks = node.status.elapsed + (now - node.statusAt) / node.tickMs;
      fraction = Math.max(0, 1 - ticks / Math.max(1, node.status.timeout));
    }
  }
  arc.setAttribute('stroke-dasharray', `${circumference * fraction} ${circumference}`);
  setAttr(arc, 'visibility', fraction > 0 ? 'visible' : 'hidden');
}

function setAttr(node, name, value) {
  if (node.getAttribute(name) !== String(value)) node.setAttribute(name, value);
}

function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

// ---- Messages in flight ----

function launch(event) {
  if (!positions.has(event.from) || !positions.has(event.to)) return;
  if (view.flights.length >= FLIGHTS_MAX || document.hidden) {
    ++view.notDrawn;
    return;
  }
  const group = document.getElementById('messages');
  const rejected = event.reject ? ' rejected' : '';
  const big = event.type.includes('Vote') || event.entries > 0;
  const dot = el('circle', {class: `msg ${event.type}${rejected}`, r: big ? 8 : 5}, group);
  let label = null;
  const text = messageLabel(event);
  if (text && (event.type.includes('Vote') || view.flights.length < LABELS_MAX)) {
    label = el('text', {class: 'msg-label'}, group);
  }
  if (label) label.textContent = text;
  view.flights.push({event, dot, label, start: performance.now()});
}

function messageLabel(event) {
  switch (event.type) {
    case 'PreVote': return `prevote t${event.term + 1}?`;
    case 'Vote': return `vote t${event.term}?`;
    case 'PreVoteResponse':
    case 'VoteResponse': return event.reject ? 'no' : 'yes';
    case 'Append': return event.entries ? `+${event.entries}` : '';
    default: return '';
  }
}

// A message across a link the page knows is cut fades out halfway: it is lost.
function linkCut(a, b) {
  const x = view.nodes.get(a);
  const y = view.nodes.get(b);
  if (!x || !y) return false;
  return ['isolated', 'down', 'stale', 'paused'].includes(x.state) ||
         ['isolated', 'down', 'stale', 'paused'].includes(y.state);
}

function drawFlights(now) {
  const still = [];
  for (const flight of view.flights) {
    const progress = (now - flight.start) / FLIGHT_MS;
    const p = positions.get(flight.event.from);
    const q = positions.get(flight.event.to);
    const lost = linkCut(flight.event.from, flight.event.to);
    if (progress >= 1 || !p || !q || (lost && progress > 0.5)) {
      flight.dot.remove();
      if (flight.label) flight.label.remove();
      continue;
    }
    const x = p.x + (q.x - p.x) * progress;
    const y = p.y + (q.y - p.y) * progress;
    flight.dot.setAttribute('cx', x);
    flight.dot.setAttribute('cy', y);
    if (lost) flight.dot.setAttribute('opacity', String(1 - progress * 2));
    if (flight.label) {
      flight.label.setAttribute('x', x);
      flight.label.setAttribute('y', y - 11);
    }
    still.push(flight);
  }
  view.flights = still;
}

// Per link: messages per second both ways, from the nodes' stats; how many were not drawn;
// and a link is drawn cut when one side sent and the other received nothing.
function drawLinks() {
  for (const a of view.nodes.values()) {
    for (const b of view.nodes.values()) {
      if (a.id >= b.id) continue;
      const line = document.getElementById(`link-${a.id}-${b.id}`);
      const label = document.getElementById(`link-label-${a.id}-${b.id}`);
      if (!line || !label) continue;
      const ab = linkTraffic(a, b);
      const ba = linkTraffic(b, a);
      const cut = linkCut(a.id, b.id) || ab.deaf || ba.deaf;
      line.classList.toggle('cut', cut);
      const perSecond = ab.sent + ba.sent;
      const hidden = perSecond - ab.drawn - ba.drawn;
      setText(label, perSecond ? `${perSecond} msg/s` + (hidden > 0 ? `, ${hidden} not drawn`
                                                                     : '') : '');
    }
  }
}

function linkTraffic(from, to) {
  const out = {sent: 0, drawn: 0, deaf: false};
  if (!from.stats || from.state !== 'up') return out;
  for (const link of from.stats.sent) {
    if (link.to !== to.id) continue;
    out.sent += link.count;
    out.drawn += link.drawn;
  }
  // A message or two may fall into the receiver's next second; a link with steady traffic
  // and nothing received is cut.
  if (to.stats && to.state === 'up' && out.sent >= 3) {
    const got = to.stats.received.find((r) => r.from === from.id);
    out.deaf = !got || got.count === 0;
  }
  return out;
}

// ---- Logs ----

function drawLogs() {
  const box = document.getElementById('log-views');
  for (const node of [...view.nodes.values()].sort((a, b) => a.id - b.id)) {
    let row = box.querySelector(`.log-row[data-node="${node.id}"]`);
    if (!row) {
      row = html('div', {class: 'log-row', 'data-node': node.id});
      row.appendChild(html('span', {class: 'label'}));
      box.appendChild(row);
    }
    setAttr(row, 'data-state', node.state);
    setAttr(row, 'data-last', node.last);
    setAttr(row, 'data-commit', node.commit);
    setText(row.firstChild, `node ${node.id}: last ${node.last}, commit ${node.commit}, ` +
                            `applied ${node.applied}`);
    // The newest durable entries (the status's last index may run ahead of them while a
    // batch is being synced); those written before the node's stream began have no known term.
    const end = node.log.size ? Math.max(...node.log.keys()) : node.last;
    const first = Math.max(node.status ? node.status.first : 1, end - LOG_ENTRIES_SHOWN + 1);
    const indexes = [];
    for (let index = Math.max(1, first); index <= end; ++index) indexes.push(index);
    const key = indexes.map((i) => `${i}:${node.log.get(i)}:${i <= node.commit ? 1 : 0}:` +
                                   `${i <= node.applied ? 1 : 0}`).join(',');
    if (row.dataset.key === key) continue;
    row.dataset.key = key;
    while (row.children.length > 1) row.removeChild(row.lastChild);
    for (const index of indexes) {
      const term = node.log.get(index);
      const classes = ['entry'];
      if (index > node.commit) classes.push('uncommitted');
      if (index <= node.applied) classes.push('applied');
      const title = term === undefined
        ? `index ${index}, written before this node's stream began (term not known here)`
        : `index ${index}, term ${term}`;
      const cell = html('span', {class: classes.join(' '), 'data-index': index,
                                 'data-term': term ?? '', title}, String(index));
      cell.style.background = term === undefined ? '#aaa' : termColour(term);
      row.appendChild(cell);
    }
  }
}

// ---- Sparklines and timeline ----

function drawSpark(id, series, unit) {
  const svg = document.getElementById(id);
  svg.replaceChildren();
  if (series.length < 2) return;
  const now = Date.now();
  const max = Math.max(1, ...series.map(([, v]) => v));
  const points = series.map(([t, v]) => {
    const x = 300 - ((now - t) / (HISTORY_S * 1000)) * 300;
    return `${x.toFixed(1)},${(56 - (v / max) * 46).toFixed(1)}`;
  });
  el('polyline', {points: points.join(' ')}, svg);
  const latest = series[series.length - 1][1];
  el('text', {x: 4, y: 12}, svg).textContent =
      `${latest.toFixed(latest < 10 ? 1 : 0)} ${unit} (max ${max.toFixed(0)})`;
}

const ROLE_FILL = {
  follower: '#6c8ebf', 'pre-candidate': '#f3c26b', candidate: '#e8891d', leader: '#3a9d4f',
};

function drawTimeline() {
  const svg = document.getElementById('timeline');
  svg.replaceChildren();
  const now = Date.now();
  const x = (t) => 60 + ((t - (now - HISTORY_S * 1000)) / (HISTORY_S * 1000)) * 830;
  const ids = [...view.nodes.keys()].sort((a, b) => a - b);
  const lane = 90 / Math.max(1, ids.length);
  ids.forEach((id, i) => {
    const node = view.nodes.get(id);
    const y = 8 + i * lane;
    el('text', {x: 4, y: y + lane / 2 + 4}, svg).textContent = `node ${id}`;
    for (const segment of node.roles) {
      const to = node.state === 'up' || node.state === 'isolated' ? Math.max(segment.to, now)
                                                                   : segment.to;
      const from = Math.max(segment.from, now - HISTORY_S * 1000);
      if (to < from) continue;
      el('rect', {x: x(from), y, width: Math.max(1, x(to) - x(from)), height: lane - 3,
                  fill: ROLE_FILL[segment.role] || '#999'}, svg);
    }
  });
  view.timeline = view.timeline.filter((mark) => mark.t > now - HISTORY_S * 1000);
  for (const mark of view.timeline) {
    const kind = mark.kind === 'membership' ? 'membership-change' : 'leader-change';
    el('line', {class: kind, x1: x(mark.t), x2: x(mark.t), y1: 4, y2: 100}, svg);
    const y = kind === 'leader-change' ? 114 : 12;  // Membership changes are told at the top.
    el('text', {class: `${kind}-label`, x: x(mark.t) + 3, y}, svg).textContent = mark.text;
  }
}

// ---- Controls (local clusters started with --web) ----

async function pollControl() {
  if (!control) return;
  try {
    const response = await fetch(`http://${control}/api/state`);
    view.control = await response.json();
    for (const node of view.control.nodes) addNode(node.id, node.http);
    drawControls();
  } catch (error) {
    view.control = null;  // The tool stopped; the page goes on watching.
  }
}

function drawControls() {
  const ctl = view.control;
  const step = document.getElementById('demo-step');
  step.hidden = !ctl.step;
  setText(step, ctl.step);
  const panel = document.getElementById('controls');
  panel.hidden = !ctl.controls;
  if (!ctl.controls) return;
  const box = document.getElementById('node-controls');
  // A node removed since (raftkv cluster remove-node) loses its row.
  const listed = new Set(ctl.nodes.map((node) => String(node.id)));
  for (const row of [...box.querySelectorAll('.node-row')]) {
    if (!listed.has(row.dataset.node)) row.remove();
  }
  for (const node of ctl.nodes) {
    let row = box.querySelector(`.node-row[data-node="${node.id}"]`);
    if (!row) {
      row = html('div', {class: 'node-row', 'data-node': node.id});
      row.appendChild(html('span', {class: 'label'}));
      for (const action of ['kill', 'restart', 'pause', 'resume', 'partition', 'heal',
                            'lead']) {
        const button = html('button', {type: 'button', 'data-action': action},
                            action === 'kill' ? 'kill -9' : action);
        button.addEventListener('click', () => act(node.id, action));
        row.appendChild(button);
      }
      box.appendChild(row);
    }
    setText(row.firstChild, `node ${node.id}` + (node.running ? ` (pid ${node.pid})` : ' (down)'));
    const enable = (action, on, why = '') => {
      const button = row.querySelector(`[data-action="${action}"]`);
      button.disabled = !on;
      button.title = why;
    };
    enable('kill', node.running);
    enable('restart', true);
    enable('pause', node.running && !node.paused);
    enable('resume', node.running && node.paused);
    const partition = ctl.partition || {available: false, why: ''};
    enable('partition', partition.available && !node.isolated, partition.why);
    enable('heal', partition.available && node.isolated, partition.why);
    const transfer = ctl.transfer || {available: false, why: ''};
    enable('lead', transfer.available && node.running && !node.paused, transfer.why ||
           'transfer leadership to this node (RAFT.TRANSFER)');
  }
}

async function post(path) {
  const separator = path.includes('?') ? '&' : '?';
  const response = await fetch(`http://${control}${path}${separator}token=${token}`,
                               {method: 'POST', body: ''});
  return response.json();
}

const ACTION_WORDS = {
  kill: 'killed (kill -9)', restart: 'restarted', pause: 'paused (SIGSTOP)',
  resume: 'resumed (SIGCONT)', partition: 'cut off from the other nodes',
  heal: 'reconnected to the other nodes', lead: 'take over as leader (RAFT.TRANSFER)',
};

async function act(id, action) {
  const result = document.getElementById('control-result');
  result.textContent = `node ${id}: ${action}...`;
  try {
    const reply = await post(`/api/nodes/${id}/${action}`);
    result.textContent = reply.ok || reply.error;
    if (reply.ok) narrate(`you had node ${id} ${ACTION_WORDS[action]}.`);
  } catch (error) {
    result.textContent = `the control did not answer: ${error}`;
  }
  pollControl();
}

async function write(event) {
  event.preventDefault();
  const key = document.getElementById('write-key').value;
  const value = document.getElementById('write-value').value;
  const result = document.getElementById('control-result');
  result.textContent = `SET ${key} ${value}...`;
  try {
    const reply = await post(`/api/write?key=${encodeURIComponent(key)}` +
                             `&value=${encodeURIComponent(value)}`);
    result.textContent = reply.ok ? `SET ${key}: ${reply.reply} from ${reply.endpoint} in ` +
                                    `${reply.ms} ms` : `SET ${key}: ${reply.outcome} ` +
                                    `${reply.reply || ''} ${reply.detail || reply.error || ''}`;
    if (reply.ok) narrate(`your write SET ${key} was acknowledged (${reply.ms} ms).`);
  } catch (error) {
    result.textContent = `the control did not answer: ${error}`;
  }
}

// ---- Start ----

async function discover() {
  try {
    const response = await nodeFetch(location.host, '/status');
    if (response.status === 401) return askToken((await response.text()).trim());
    const status = await response.json();
    addNode(status.id, location.host);
    for (const member of status.members) addNode(member.id, member.http_addr);
  } catch (error) {
    narrate(`could not read /status from ${location.host}: ${error}`);
  }
  for (const item of (params.get('nodes') || '').split(',')) {
    const [id, http] = item.split('=');
    addNode(id, http);
  }
}

function frame() {
  const now = Date.now();
  drawNodes(now);
  drawFlights(performance.now());
  requestAnimationFrame(frame);
}

function slowFrame() {
  drawLinks();
  drawLogs();
  drawSpark('throughput', view.throughput, '/s');
  drawSpark('latency', view.latency, 'ms');
  drawTimeline();
  drawMembers();
}

// For tests and the curious: the page's model, as plain data.
window.raftkvView = () => [...view.nodes.values()].map((node) => ({
  id: node.id, http: node.http, state: node.state, role: node.role, term: node.term,
  leader: node.leader, commit: node.commit, last: node.last,
  log: [...node.log.entries()],
}));

// The membership the page shows, and the changes on its timeline.
window.raftkvMembers = () => ({
  voters: view.members.voters, learners: view.members.learners, pending: view.members.pending,
  index: view.members.index,
  changes: view.timeline.filter((mark) => mark.kind === 'membership')
      .map(({change, member, index}) => ({change, member, index})),
});

document.getElementById('write-form').addEventListener('submit', write);
document.getElementById('token-form').addEventListener('submit', useToken);
discover();
pollControl();
setInterval(pollControl, 500);
setInterval(slowFrame, 250);
requestAnimationFrame(frame);
