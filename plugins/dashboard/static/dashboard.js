// The Orrery dashboard page: a snapshot from /api/state, then every event
// over the WebSocket /events (from sequence 0 on load, from the last one
// seen on a reconnect). Its state is window.orrery (read by the tests).
'use strict';

const orrery = window.orrery = {
  token: null,
  seq: 0,            // the last event sequence applied
  events: [],        // every event record received, in order
  gaps: 0,           // events that came after a missing one (should stay 0)
  duplicates: 0,     // events seen twice (should stay 0)
  tasks: {},         // id -> {id, status, attempt, device, ...}
  snapshot: null,
  layout: 0,
  connects: 0,
  connected: false,
  runState: 'waiting',
};

const LOG_ROWS = 300;
const ACK_EVERY = 64;

function $(id) { return document.getElementById(id); }

function takeToken() {
  const params = new URLSearchParams(window.location.search);
  let token = params.get('token');
  if (token) {
    sessionStorage.setItem('orrery-token', token);
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', window.location.pathname + (rest ? '?' + rest : ''));
  } else {
    token = sessionStorage.getItem('orrery-token');
  }
  orrery.token = token;
}

function api(path, method) {
  const headers = {};
  if (orrery.token) headers['X-Orrery-Token'] = orrery.token;
  return fetch(path, { method: method || 'GET', headers, credentials: 'same-origin', cache: 'no-store' });
}

// The SVG id of a task: task- then its UTF-8 bytes, [A-Za-z0-9-] as is, others _xx.
function nodeId(id) {
  let out = 'task-';
  for (const b of new TextEncoder().encode(id)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9-]/.test(c)) out += c;
    else out += '_' + b.toString(16).padStart(2, '0');
  }
  return out;
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '' : String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function fmtDuration(d) { return d === null || d === undefined ? '' : d.toFixed(2) + ' s'; }

function recolour() {
  for (const id in orrery.tasks) {
    const el = document.getElementById(nodeId(id));
    if (el) el.setAttribute('class', 'node task st-' + orrery.tasks[id].status);
  }
}

function renderTasks() {
  const body = $('tasks').tBodies[0];
  const ids = Object.keys(orrery.tasks).sort();
  const frag = document.createDocumentFragment();
  for (const id of ids.slice(0, 2000)) {
    const t = orrery.tasks[id];
    const tr = document.createElement('tr');
    tr.dataset.task = id;
    cell(tr, id);
    cell(tr, t.status, 's-' + t.status);
    cell(tr, t.device);
    cell(tr, t.attempt);
    cell(tr, fmtDuration(t.duration));
    cell(tr, t.exit_status);
    cell(tr, t.output, 'output');
    const td = cell(tr, '');
    if (t.log) {
      const a = document.createElement('a');
      a.href = '/run/' + t.log.split('/').map(encodeURIComponent).join('/');
      a.textContent = 'log';
      a.target = '_blank';
      a.rel = 'noopener';
      td.appendChild(a);
    }
    frag.appendChild(tr);
  }
  body.replaceChildren(frag);
  const done = ids.filter(id => ['completed', 'failed', 'cancelled', 'skipped'].includes(orrery.tasks[id].status)).length;
  $('progress-bar').style.width = (ids.length ? 100 * done / ids.length : 0) + '%';
  $('progress-text').textContent = done + ' / ' + ids.length + ' tasks';
}

function renderMetrics() {
  const s = orrery.snapshot;
  if (!s) return;
  const m = s.metrics;
  const rows = [['events', orrery.seq], ['elapsed', fmtDuration(m.elapsed)],
                ['events/s', m.events_per_second.toFixed(1)], ['clients', m.clients]];
  for (const k in m.by_status) if (m.by_status[k]) rows.push([k, m.by_status[k]]);
  const body = $('metrics').tBodies[0];
  body.replaceChildren();
  for (const [k, v] of rows) { const tr = document.createElement('tr'); cell(tr, k); cell(tr, v); body.appendChild(tr); }
  const dbody = $('devices').tBodies[0];
  dbody.replaceChildren();
  for (const d of s.devices) { const tr = document.createElement('tr'); cell(tr, d.id); cell(tr, d.status); dbody.appendChild(tr); }
}

function renderRun() {
  const s = orrery.snapshot;
  const paused = s && s.run.paused;
  $('run-state').textContent = orrery.runState + (paused ? ' (paused)' : '');
  $('run-name').textContent = s && s.run.name ? '— ' + s.run.name : '';
  const controls = s && s.run.controls && !['completed', 'failed', 'cancelled', 'waiting'].includes(orrery.runState);
  $('pause').disabled = !controls || paused;
  $('resume').disabled = !controls || !paused;
  $('cancel').disabled = !controls;
}

const knownTypes = new Set();

function logRowMatches(ev) {
  const type = $('filter-type').value;
  const task = $('filter-task').value;
  if (type && ev.type !== type) return false;
  if (task && !(ev.task || '').includes(task)) return false;
  return true;
}

function logRow(ev) {
  const tr = document.createElement('tr');
  tr.dataset.type = ev.type;
  cell(tr, ev.seq);
  cell(tr, ev.type);
  cell(tr, ev.task);
  cell(tr, ev.status || ev.state);
  cell(tr, ev.device);
  return tr;
}

function renderLog() {
  const body = $('events').tBodies[0];
  const rows = [];
  for (let i = orrery.events.length - 1; i >= 0 && rows.length < LOG_ROWS; i--)
    if (logRowMatches(orrery.events[i])) rows.push(logRow(orrery.events[i]));
  body.replaceChildren(...rows);
}

function addType(type) {
  if (knownTypes.has(type)) return;
  knownTypes.add(type);
  const o = document.createElement('option');
  o.value = o.textContent = type;
  $('filter-type').appendChild(o);
}

let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    renderTasks(); recolour(); renderLog(); renderMetrics(); renderRun();
  });
}

let snapshotTimer = null;
function scheduleSnapshot() {
  if (snapshotTimer) return;
  snapshotTimer = setTimeout(() => { snapshotTimer = null; loadSnapshot(); }, 400);
}

async function loadSnapshot() {
  const r = await api('/api/state');
  if (!r.ok) { $('connection').textContent = 'HTTP ' + r.status; return; }
  const s = await r.json();
  orrery.snapshot = s;
  for (const t of s.tasks) {
    const mine = orrery.tasks[t.id];
    // Statuses from events newer than the snapshot win.
    if (mine && mine.seq > s.seq) Object.assign(mine, t, { status: mine.status, attempt: mine.attempt, seq: mine.seq });
    else orrery.tasks[t.id] = Object.assign(mine || {}, t, { seq: s.seq });
  }
  if (orrery.seq <= s.seq && s.run.state) orrery.runState = s.run.state;
  if (s.run.layout_version && s.run.layout_version !== orrery.layout) loadGraph(s.run.layout_version);
  scheduleRender();
}

async function loadGraph(version) {
  const r = await api('/api/graph.svg');
  if (!r.ok) return;
  const text = await r.text();
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const svg = doc.documentElement;
  if (svg.nodeName !== 'svg') return;
  for (const s of svg.querySelectorAll('script, foreignObject')) s.remove();
  $('graph').replaceChildren(document.importNode(svg, true));
  orrery.layout = version;
  recolour();
}

function applyEvent(ev) {
  if (ev.seq <= orrery.seq) { orrery.duplicates++; return; }
  if (ev.seq !== orrery.seq + 1) orrery.gaps++;
  orrery.seq = ev.seq;
  orrery.events.push(ev);
  addType(ev.type);
  if (ev.task) {
    const t = orrery.tasks[ev.task] || (orrery.tasks[ev.task] = { id: ev.task });
    t.status = ev.status; t.attempt = ev.attempt; t.seq = ev.seq;
    if (ev.device) t.device = ev.device;
  }
  if (ev.type.startsWith('constellation-')) orrery.runState = ev.state;
  if (ev.type === 'constellation-modified' || ev.type === 'constellation-started') scheduleSnapshot();
  if (ev.type.startsWith('task-') && ev.type !== 'task-started') scheduleSnapshot();
  if (['constellation-completed', 'constellation-failed', 'constellation-cancelled'].includes(ev.type)) scheduleSnapshot();
}

let ws = null;
let unacked = 0;
function ack() {
  if (ws && ws.readyState === WebSocket.OPEN && unacked > 0) {
    ws.send(JSON.stringify({ ack: orrery.seq }));
    unacked = 0;
  }
}

function connect() {
  const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  ws = new WebSocket(proto + '//' + window.location.host + '/events?since=' + orrery.seq);
  orrery.connects++;
  ws.onopen = () => { orrery.connected = true; $('connection').textContent = 'live'; };
  ws.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    if (ev.layout !== undefined) { loadGraph(ev.layout); return; }
    applyEvent(ev);
    if (++unacked >= ACK_EVERY) ack();
    scheduleRender();
  };
  ws.onclose = () => {
    orrery.connected = false;
    $('connection').textContent = 'reconnecting';
    setTimeout(connect, 1000);
  };
}

async function control(what) {
  const r = await api('/api/' + what, 'POST');
  if (!r.ok) $('connection').textContent = what + ': HTTP ' + r.status;
  loadSnapshot();
}

function main() {
  takeToken();
  $('pause').addEventListener('click', () => control('pause'));
  $('resume').addEventListener('click', () => control('resume'));
  $('cancel').addEventListener('click', () => control('cancel'));
  $('filter-type').addEventListener('change', renderLog);
  $('filter-task').addEventListener('input', renderLog);
  setInterval(ack, 250);
  loadSnapshot().then(connect);
}

main();
