// fleet dashboard (Documentation/dashboard.md). Plain JavaScript, no dependencies: fleetd serves
// this file from its binary. It reads the cluster through the v1 API on the same origin and keeps
// it current from one request, GET /fleet/v1/events?follow=true (JSON lines): each event updates
// the picture at once and asks for one re-read of the listings (machines, units, states), at
// most every 250 ms, which corrects anything an event does not say.
'use strict';

// Errors the page met, for the browser test and for a user who opens the console.
window.fleetErrors = [];
window.addEventListener('error', (e) => {
  const what = e.message || (e.target && (e.target.src || e.target.href)) || 'error';
  window.fleetErrors.push(String(what));
}, true);
window.addEventListener('unhandledrejection', (e) => window.fleetErrors.push(String(e.reason)));
document.addEventListener('securitypolicyviolation', (e) =>
  window.fleetErrors.push('CSP: ' + e.violatedDirective + ' ' + e.blockedURI));

const API = '/fleet/v1';
const ROW = 32;            // px, the height of a list row (style.css --row)
const MAX_EVENTS = 2000;   // kept in memory for the feed
const MAX_CHIPS = 300;     // unit chips drawn per machine box; the rest is a link to the list

const model = {
  machines: new Map(),  // id -> Machine (API fields) + {up: bool}
  units: new Map(),     // name -> Unit (API fields)
  states: new Map(),    // name -> Map(machineID -> UnitState)
  events: [],           // oldest first
  position: 0,          // last event position seen (resume point of the stream)
  loaded: false,
};

// --- small helpers -------------------------------------------------------------------------

// h('a', {href: '#', class: 'x'}, 'text', child...): an element; text is never parsed as HTML.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Replaces parent's children with `nodes` unless they would draw the same: a view redraws on
// every event, and an element swapped between a user's mousedown and mouseup loses the click.
function redraw(parent, nodes) {
  const html = nodes.map((n) => (n instanceof Element ? n.outerHTML : n.textContent)).join('');
  if (parent.innerHTML === html) return;
  parent.replaceChildren(...nodes);
}

function short(id) { return id ? id.slice(0, 8) : ''; }
function enc(name) { return encodeURIComponent(name); }

class ApiError extends Error {}

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  if (!res.ok) {
    let msg = text;
    try { msg = JSON.parse(text).error.message; } catch (_) { /* not JSON: keep the text */ }
    throw new ApiError(`${res.status} ${msg}`);
  }
  const type = res.headers.get('Content-Type') || '';
  return type.startsWith('application/json') && text ? JSON.parse(text) : text;
}

// Every page of a paged collection (units, state, machines).
async function all(path, key) {
  const out = [];
  let token = '';
  do {
    const page = await api('GET', path + (token ? '?nextPageToken=' + enc(token) : ''));
    out.push(...(page[key] || []));
    token = page.nextPageToken || '';
  } while (token);
  return out;
}

function isGlobal(u) {
  return (u.options || []).some((o) => o.section === 'X-Fleet' && o.name === 'Global' &&
                                      /^(true|yes|1|on)$/i.test(o.value.trim()));
}

// systemd's state of a unit on a machine, or undefined.
function stateOf(name, machine) {
  const m = model.states.get(name);
  return m ? m.get(machine) : undefined;
}

// The state a chip or row shows: systemd's ActiveState where the unit runs.
function activeOf(u, machine) {
  const s = stateOf(u.name, machine || u.machineID);
  return s ? s.systemdActiveState || 'unknown' : 'unknown';
}

function banner(msg) {
  const b = document.getElementById('banner');
  b.textContent = msg || '';
  b.hidden = !msg;
}

// --- reading the cluster ------------------------------------------------------------------

let syncing = false;
let syncAgain = false;
let syncTimer = 0;

// Asks for a re-read of the listings soon (coalesced: at most one in flight, one queued).
function resyncSoon(delay = 250) {
  if (syncTimer) return;
  syncTimer = setTimeout(() => { syncTimer = 0; resync(); }, delay);
}

async function resync() {
  if (syncing) { syncAgain = true; return; }
  syncing = true;
  try {
    const [machines, units, states] = await Promise.all([
      all(API + '/machines', 'machines'), all(API + '/units', 'units'), all(API + '/state', 'states'),
    ]);
    const seen = new Set();
    for (const m of machines) {
      seen.add(m.id);
      model.machines.set(m.id, Object.assign(m, { up: true }));
    }
    // A machine that left stays in the picture, red, until the page is reloaded.
    for (const [id, m] of model.machines) if (!seen.has(id)) m.up = false;
    model.units = new Map(units.map((u) => [u.name, u]));
    model.states = new Map();
    for (const s of states) {
      if (!model.states.has(s.name)) model.states.set(s.name, new Map());
      model.states.get(s.name).set(s.machineID, s);
    }
    model.loaded = true;
    banner('');
  } catch (e) {
    banner('Cannot read the cluster: ' + e.message);
  } finally {
    syncing = false;
    render();
    if (syncAgain) { syncAgain = false; resyncSoon(); }
  }
}

// What an event says about the cluster, applied before the next re-read confirms it.
function apply(e) {
  const u = e.unit ? model.units.get(e.unit) : undefined;
  const m = e.machine ? model.machines.get(e.machine) : undefined;
  switch (e.kind) {
    case 'scheduled':
      if (u && !isGlobal(u)) u.machineID = e.machine;
      break;
    case 'unscheduled':
      if (u && u.machineID === e.machine) delete u.machineID;
      if (model.states.has(e.unit)) model.states.get(e.unit).delete(e.machine);
      break;
    case 'started': case 'failed': case 'stopped': {
      // reason: "systemd: active (running)"
      const r = /systemd: (\S+) \((\S+)\)/.exec(e.reason || '');
      if (!r) break;
      if (!model.states.has(e.unit)) model.states.set(e.unit, new Map());
      const prev = model.states.get(e.unit).get(e.machine) || { name: e.unit, machineID: e.machine };
      model.states.get(e.unit).set(e.machine,
                                   Object.assign(prev, { systemdActiveState: r[1], systemdSubState: r[2] }));
      break;
    }
    case 'destroyed':
      model.units.delete(e.unit);
      model.states.delete(e.unit);
      break;
    case 'machine-left':
      if (m) m.up = false;
      break;
    case 'cordoned': if (m) m.maintenance = 'cordoned'; break;
    case 'draining': if (m) m.maintenance = 'draining'; break;
    case 'uncordoned': if (m) delete m.maintenance; break;
    default: break;
  }
}

// Machines the recent history says left and that did not come back: drawn red after a reload
// too, which is what an operator opening the page after a bad night wants to see.
function rememberLeft(history) {
  const left = new Map();
  for (const e of history) {
    if (e.kind === 'machine-left') left.set(e.machine, e);
    else if (e.kind === 'machine-joined') left.delete(e.machine);
  }
  for (const id of left.keys())
    if (id && !model.machines.has(id)) model.machines.set(id, { id, up: false });
}

function addEvents(list, live) {
  for (const e of list) {
    if (e.position && e.position <= model.position && live) continue;
    model.position = Math.max(model.position, e.position || 0);
    model.events.push(e);
    if (live) apply(e);
  }
  if (model.events.length > MAX_EVENTS) model.events.splice(0, model.events.length - MAX_EVENTS);
}

function setConn(state, text) {
  const c = document.getElementById('conn');
  c.className = 'conn ' + state;
  c.textContent = text;
}

// The live stream: the recent history once, then JSON lines as events happen. A broken stream
// is reopened after the last position seen, so nothing is missed.
async function follow() {
  try {
    const recent = await api('GET', API + '/events?limit=500');
    addEvents(recent.events || [], false);
    rememberLeft(recent.events || []);
  } catch (e) {
    banner('Cannot read events: ' + e.message);
  }
  for (;;) {
    try {
      const res = await fetch(`${API}/events?follow=true&after=${model.position}`);
      if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
      setConn('live', 'live');
      resync();  // anything between the history and the stream
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        const lines = buf.split('\n');
        buf = lines.pop();
        const evs = [];
        for (const line of lines) if (line.trim()) evs.push(JSON.parse(line));
        if (evs.length) {
          addEvents(evs, true);
          render();
          resyncSoon();
        }
      }
    } catch (e) {
      // Reported in the header; reconnecting is the remedy, not an error of the page.
    }
    setConn('down', 'reconnecting');
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// --- actions ---------------------------------------------------------------------------------

function confirmAction(text) {
  const d = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  return new Promise((resolve) => {
    const ok = document.getElementById('confirm-ok');
    const cancel = document.getElementById('confirm-cancel');
    const done = (v) => {
      ok.removeEventListener('click', yes);
      cancel.removeEventListener('click', no);
      d.removeEventListener('cancel', no);
      if (d.open) d.close();
      resolve(v);
    };
    const yes = () => done(true);
    const no = () => done(false);
    ok.addEventListener('click', yes);
    cancel.addEventListener('click', no);
    d.addEventListener('cancel', no);
    d.showModal();
  });
}

async function act(text, call) {
  if (!(await confirmAction(text))) return;
  try {
    await call();
    banner('');
  } catch (e) {
    banner(e.message);
  }
  resyncSoon(0);
}

const unitActions = {
  start: (n) => act(`Start ${n}?`, () => api('PUT', `${API}/units/${enc(n)}`, { desiredState: 'launched' })),
  stop: (n) => act(`Stop ${n}?`, () => api('PUT', `${API}/units/${enc(n)}`, { desiredState: 'loaded' })),
  destroy: (n) => act(`Destroy ${n}? Its unit file is removed from the cluster.`,
                      () => api('DELETE', `${API}/units/${enc(n)}`)),
};
const machineActions = {
  cordon: (id) => act(`Cordon ${short(id)}? No new units will be scheduled there.`,
                      () => api('POST', `${API}/machines/${enc(id)}:cordon`)),
  drain: (id) => act(`Drain ${short(id)}? Its units move to other machines.`,
                     () => api('POST', `${API}/machines/${enc(id)}:drain`)),
  uncordon: (id) => act(`Uncordon ${short(id)}?`, () => api('POST', `${API}/machines/${enc(id)}:uncordon`)),
};

function unitButtons(u) {
  return h('span', { class: 'actions' },
    h('button', { 'data-action': 'start', onclick: () => unitActions.start(u.name) }, 'Start'),
    h('button', { 'data-action': 'stop', onclick: () => unitActions.stop(u.name) }, 'Stop'),
    h('button', { 'data-action': 'destroy', class: 'danger', onclick: () => unitActions.destroy(u.name) }, 'Destroy'));
}

function machineButtons(m) {
  if (!m.up) return h('span', { class: 'muted' }, 'down');
  const held = !!m.maintenance;
  return h('span', { class: 'actions' },
    held ? h('button', { 'data-action': 'uncordon', onclick: () => machineActions.uncordon(m.id) }, 'Uncordon')
         : h('button', { 'data-action': 'cordon', onclick: () => machineActions.cordon(m.id) }, 'Cordon'),
    m.maintenance === 'draining' ? null
      : h('button', { 'data-action': 'drain', onclick: () => machineActions.drain(m.id) }, 'Drain'));
}

// --- a virtualised list: only the rows in view (plus a margin) are in the DOM ----------------

class VirtualList {
  constructor(cls, header, renderRow) {
    this.items = [];
    this.renderRow = renderRow;
    this.el = h('div', { class: 'vlist ' + cls });
    this.head = h('div', { class: 'row head' }, ...header.map((c) => h('span', {}, c)));
    this.spacer = h('div', { class: 'spacer' });
    this.el.append(this.head, this.spacer);
    this.el.addEventListener('scroll', () => this.draw());
    new ResizeObserver(() => this.draw()).observe(this.el);
  }
  set(items) {
    this.items = items;
    this.spacer.style.height = items.length * ROW + 'px';
    this.draw();
  }
  draw() {
    const top = Math.max(0, this.el.scrollTop - ROW);
    const height = this.el.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW) - 5);
    const last = Math.min(this.items.length, Math.ceil((top + height) / ROW) + 5);
    const rows = [];
    for (let i = first; i < last; i++) {
      const row = this.renderRow(this.items[i]);
      row.classList.add('row');
      row.style.top = i * ROW + 'px';
      rows.push(row);
    }
    redraw(this.spacer, rows);
  }
}

// --- views -----------------------------------------------------------------------------------

const main = document.getElementById('main');
let view = null;  // {name, key, update()} of the view on screen

function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, query] = hash.split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').map(decodeURIComponent);
  if (parts[0] === 'unit' && parts[1]) return { name: 'unit', arg: parts[1], params };
  if (['machines', 'units', 'events'].includes(parts[0])) return { name: parts[0], params };
  return { name: 'cluster', params };
}

function show() {
  const r = route();
  for (const a of document.querySelectorAll('header nav a'))
    a.classList.toggle('active', a.dataset.view === (r.name === 'unit' ? 'units' : r.name));
  const builders = { cluster: clusterView, machines: machinesView, units: unitsView, events: eventsView, unit: unitView };
  view = builders[r.name](r);
  main.replaceChildren(view.el);
  view.update();
}

let renderQueued = false;
function render() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    if (view) view.update();
  });
}

function sortedMachines() {
  return [...model.machines.values()].sort((a, b) => a.id.localeCompare(b.id));
}

// Units in a machine's box: those scheduled there, and global units reporting from it.
function unitsByMachine() {
  const by = new Map();
  const unplaced = [];
  for (const m of model.machines.keys()) by.set(m, []);
  for (const u of model.units.values()) {
    if (isGlobal(u)) {
      for (const mid of (model.states.get(u.name) || new Map()).keys())
        if (by.has(mid)) by.get(mid).push(u);
    } else if (u.machineID && by.has(u.machineID)) {
      by.get(u.machineID).push(u);
    } else if (u.desiredState !== 'inactive') {
      unplaced.push(u);
    }
  }
  return { by, unplaced };
}

function chip(u, machine) {
  const st = activeOf(u, machine);
  const title = `${u.name}: ${st}` + (u.reason ? ` (${u.reason})` : '');
  return h('a', { class: 'chip s-' + st, href: '#/unit/' + enc(u.name), title,
                  dataset: { unit: u.name, state: st } }, u.name);
}

function machineLabel(m) {
  if (!m.up) return h('span', { class: 'badge down' }, 'down');
  if (m.maintenance) return h('span', { class: 'badge held' }, m.maintenance);
  return h('span', { class: 'badge' }, 'up');
}

function clusterView() {
  const summary = h('div', { class: 'summary' });
  const grid = h('div', { class: 'grid', id: 'cluster' });
  const el = h('section', {},
    h('h2', {}, 'Cluster'), summary,
    h('div', { class: 'legend' },
      ...[['active', 'active'], ['activating', 'activating / deactivating'], ['failed', 'failed'],
          ['inactive', 'inactive / no state']].map(([c, t]) => h('span', { class: 'chip s-' + c }, t))),
    grid);
  el.className = 'view';
  return {
    el,
    update() {
      const { by, unplaced } = unitsByMachine();
      const machines = sortedMachines();
      const up = machines.filter((m) => m.up).length;
      summary.textContent = model.loaded
        ? `${up} of ${machines.length} machines up, ${model.units.size} units` : 'loading…';
      const boxes = machines.map((m) => {
        const units = by.get(m.id) || [];
        const cls = 'machine' + (m.up ? '' : ' down') + (m.maintenance && m.up ? ' held' : '');
        return h('div', { class: cls, dataset: { id: m.id, up: String(m.up) } },
          h('div', { class: 'title' }, h('span', { class: 'mono' }, short(m.id)), machineLabel(m)),
          h('div', { class: 'meta' }, [m.primaryIP, ...Object.entries(m.metadata || {}).map(([k, v]) => `${k}=${v}`)]
            .filter(Boolean).join(' · ')),
          h('div', { class: 'chips' }, units.slice(0, MAX_CHIPS).map((u) => chip(u, m.id)),
            units.length > MAX_CHIPS
              ? h('a', { href: '#/units?machine=' + enc(m.id) }, `+${units.length - MAX_CHIPS} more`) : null));
      });
      if (unplaced.length) {
        boxes.push(h('div', { class: 'machine unplaced', dataset: { id: '' } },
          h('div', { class: 'title' }, 'not scheduled', h('span', { class: 'badge held' }, String(unplaced.length))),
          h('div', { class: 'chips' }, unplaced.slice(0, MAX_CHIPS).map((u) => chip(u)))));
      }
      redraw(grid, boxes);
    },
  };
}

function machinesView() {
  const body = h('tbody');
  const el = h('section', {}, h('h2', {}, 'Machines'),
    h('div', { class: 'wrap' }, h('table', { class: 'machines-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Machine'), h('th', {}, 'IP'), h('th', { class: 'opt' }, 'Metadata'),
        h('th', {}, 'Units'), h('th', {}, 'State'), h('th', { class: 'opt' }, 'Version'), h('th', {}, 'Actions'))),
      body)));
  return {
    el,
    update() {
      const { by } = unitsByMachine();
      redraw(body, sortedMachines().map((m) => h('tr', { dataset: { id: m.id } },
        h('td', { class: 'mono', title: m.id }, short(m.id)),
        h('td', {}, m.primaryIP || ''),
        h('td', { class: 'opt' }, Object.entries(m.metadata || {}).map(([k, v]) => `${k}=${v}`).join(', ')),
        h('td', {}, h('a', { href: '#/units?machine=' + enc(m.id) }, String((by.get(m.id) || []).length))),
        h('td', {}, machineLabel(m)),
        h('td', { class: 'opt' }, m.version || ''),
        h('td', {}, machineButtons(m)))));
    },
  };
}

// "web*" and "web@?.service" are globs; other text matches anywhere in the name.
function nameMatcher(text) {
  if (!text) return () => true;
  if (/[*?]/.test(text)) {
    const re = new RegExp('^' + text.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
    return (n) => re.test(n);
  }
  return (n) => n.includes(text);
}

// Filter value of a unit's state: systemd's ActiveState, else 'unscheduled'/'inactive'.
function unitState(u) {
  if (isGlobal(u)) {
    const states = [...(model.states.get(u.name) || new Map()).values()];
    if (!states.length) return u.desiredState === 'inactive' ? 'inactive' : 'unscheduled';
    return states.some((s) => s.systemdActiveState === 'failed') ? 'failed' : states[0].systemdActiveState;
  }
  if (!u.machineID) return u.desiredState === 'inactive' ? 'inactive' : 'unscheduled';
  const s = stateOf(u.name, u.machineID);
  return s ? s.systemdActiveState : 'unknown';
}

function unitsView(r) {
  const q = h('input', { type: 'search', id: 'filter-name', placeholder: 'name or pattern (web@*.service)', value: r.params.get('q') || '' });
  const machine = h('select', { id: 'filter-machine' }, h('option', { value: '' }, 'any machine'));
  const stateSel = h('select', { id: 'filter-state' }, ['', 'active', 'activating', 'failed', 'inactive', 'unscheduled']
    .map((s) => h('option', { value: s }, s || 'any state')));
  stateSel.value = r.params.get('state') || '';
  const count = h('span', { class: 'muted', id: 'unit-count' });
  const list = new VirtualList('units', ['Unit', 'Desired', 'Current', 'Machine', 'Active', 'Reason'], (u) => {
    const st = unitState(u);
    const s = u.machineID ? stateOf(u.name, u.machineID) : undefined;
    return h('div', { dataset: { unit: u.name } },
      h('a', { href: '#/unit/' + enc(u.name) }, u.name),
      h('span', {}, u.desiredState || ''),
      h('span', {}, u.currentState || (isGlobal(u) ? 'global' : '')),
      h('span', { class: 'mono' }, isGlobal(u) ? 'global' : short(u.machineID)),
      h('span', { class: 'txt-' + st }, s ? `${s.systemdActiveState} (${s.systemdSubState})` : st),
      h('span', { class: 'reason', title: u.reason || '' }, u.reason || ''));
  });
  const onChange = () => {
    const p = new URLSearchParams();
    if (q.value) p.set('q', q.value);
    if (machine.value) p.set('machine', machine.value);
    if (stateSel.value) p.set('state', stateSel.value);
    history.replaceState(null, '', '#/units' + (p.toString() ? '?' + p : ''));
    update();
  };
  q.addEventListener('input', onChange);
  machine.addEventListener('change', onChange);
  stateSel.addEventListener('change', onChange);
  let wantMachine = r.params.get('machine') || '';
  const el = h('section', {}, h('h2', {}, 'Units'), h('div', { class: 'filters' }, q, machine, stateSel, count), list.el);
  el.className = 'view fill';
  function update() {
    const ids = sortedMachines().map((m) => m.id);
    const current = machine.value || wantMachine;
    if (machine.options.length !== ids.length + 1) {
      machine.replaceChildren(h('option', { value: '' }, 'any machine'),
        ...ids.map((id) => h('option', { value: id }, short(id) + ' ' + (model.machines.get(id).primaryIP || ''))));
    }
    machine.value = current;
    if (machine.value === current) wantMachine = '';
    const match = nameMatcher(q.value.trim());
    const want = stateSel.value;
    const items = [...model.units.values()].filter((u) => {
      if (!match(u.name)) return false;
      if (current && !(u.machineID === current || (isGlobal(u) && stateOf(u.name, current)))) return false;
      if (want && unitState(u) !== want) return false;
      return true;
    }).sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
    count.textContent = `${items.length} of ${model.units.size}`;
    list.set(items);
  }
  return { el, update };
}

function eventRow(e) {
  return h('div', { dataset: { kind: e.kind } },
    h('span', { class: 'mono' }, (e.time || '').replace('T', ' ').replace('Z', '')),
    h('span', {}, e.kind),
    e.unit ? h('a', { href: '#/unit/' + enc(e.unit) }, e.unit) : h('span', { class: 'muted' }, '-'),
    h('span', { class: 'mono' }, short(e.machine) || '-'),
    h('span', { title: e.reason || '' }, e.reason || ''));
}

function eventsView() {
  const list = new VirtualList('events', ['Time', 'Kind', 'Unit', 'Machine', 'Reason'], eventRow);
  list.el.id = 'event-feed';
  const el = h('section', {}, h('h2', {}, 'Events'), h('div', { class: 'summary' }, 'Newest first, live from the event stream.'), list.el);
  el.className = 'view fill';
  return { el, update() { list.set(model.events.slice().reverse()); } };
}

function unitText(u) {
  const sections = [];
  for (const o of u.options || []) {
    let s = sections.find((x) => x.name === o.section);
    if (!s) { s = { name: o.section, lines: [] }; sections.push(s); }
    s.lines.push(`${o.name}=${o.value}`);
  }
  return sections.map((s) => `[${s.name}]\n${s.lines.join('\n')}\n`).join('\n');
}

function unitView(r) {
  const name = r.arg;
  const head = h('div');
  const content = h('pre', { id: 'unit-content' });
  const status = h('pre', { id: 'unit-status' }, 'loading…');
  const journal = h('pre', { id: 'unit-journal' }, 'loading…');
  const evBody = h('tbody');
  const where = h('div', { class: 'muted' });
  const inspect = async () => {
    const u = model.units.get(name);
    const q = u && isGlobal(u) ? `?machineID=${enc(firstMachine(u))}` : '';
    const sep = q ? '&' : '?';
    status.textContent = journal.textContent = 'loading…';
    try { status.textContent = await api('GET', `${API}/units/${enc(name)}/status${q}`); } catch (e) { status.textContent = e.message; }
    try { journal.textContent = await api('GET', `${API}/units/${enc(name)}/journal${q}${sep}lines=20`) || '(empty)'; } catch (e) { journal.textContent = e.message; }
  };
  const firstMachine = (u) => [...(model.states.get(u.name) || new Map()).keys()][0] || '';
  const el = h('section', {}, head,
    h('h3', {}, 'Where it ran'), where,
    h('h3', {}, 'Status and journal ', h('button', { onclick: inspect }, 'Refresh')), status, journal,
    h('h3', {}, 'Unit file'), content,
    h('h3', {}, 'Events'), h('div', { class: 'wrap' }, h('table', {}, h('thead', {}, h('tr', {},
      ...['Time', 'Kind', 'Machine', 'Reason'].map((t) => h('th', {}, t)))), evBody)));
  let inspected = false;
  return {
    el,
    update() {
      const u = model.units.get(name);
      if (!u) {
        redraw(head, [h('h2', {}, name), h('p', { class: 'muted' }, model.loaded ? 'No such unit (destroyed?).' : 'loading…')]);
        return;
      }
      const st = unitState(u);
      redraw(head, [h('h2', {}, name),
        h('dl', { class: 'kv panel', id: 'unit-summary' },
          h('dt', {}, 'desired'), h('dd', {}, u.desiredState || ''),
          h('dt', {}, 'current'), h('dd', {}, u.currentState || (isGlobal(u) ? 'global' : '')),
          h('dt', {}, 'machine'), h('dd', { class: 'mono' }, isGlobal(u) ? 'global' : (u.machineID || 'not scheduled')),
          h('dt', {}, 'systemd'), h('dd', { class: 'txt-' + st, id: 'unit-state' }, st),
          u.reason ? h('dt', {}, 'reason') : null, u.reason ? h('dd', { class: 'reason' }, u.reason) : null),
        unitButtons(u)]);
      const text = unitText(u);
      if (content.textContent !== text) content.textContent = text;
      const evs = model.events.filter((e) => e.unit === name);
      const hosts = [];
      for (const e of evs) if (e.kind === 'scheduled' && e.machine && !hosts.includes(e.machine)) hosts.push(e.machine);
      const ran = hosts.length ? hosts.map((id) => {
        const m = model.machines.get(id);
        return `${short(id)}${m && m.primaryIP ? ' (' + m.primaryIP + ')' : ''}`;
      }).join(' → ') : 'no placement in the recent history';
      if (where.textContent !== ran) where.textContent = ran;
      redraw(evBody, evs.slice(-200).reverse().map((e) => h('tr', {},
        h('td', { class: 'mono' }, e.time), h('td', {}, e.kind), h('td', { class: 'mono' }, short(e.machine)),
        h('td', {}, e.reason || ''))));
      if (!inspected && model.loaded) { inspected = true; inspect(); }
    },
  };
}

// --- start ---------------------------------------------------------------------------------

window.addEventListener('hashchange', show);
show();
resync();
follow();
// Machines whose registration ran out without an event (a leader that died with them) are
// noticed by the listing: re-read it now and then, whatever the stream says.
setInterval(() => resyncSoon(0), 5000);
