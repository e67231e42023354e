/// The admin listener's `GET /` page: one self-contained HTML document (no CDN, no build step) that reads
/// `/status` every 2 s and draws zones, servers, breakers and degraded routes; admin actions post to the API.
enum StatusPage {
    static let html = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Sluice status</title>
<style>
body{margin:0;font:13px/1.35 system-ui,sans-serif;background:#f3f4f6;color:#222}
header{background:#223;color:#ccc;padding:7px 14px;display:flex;flex-wrap:wrap;gap:3px 16px;align-items:baseline}
header h1{margin:0 6px 0 0;font-size:18px}
header :is(h1,b){color:#fff}
#banner{background:#b3261e;color:#fff;padding:6px 14px;font-weight:600}
main{padding:8px 14px}
.bar{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:6px 0}
.dim,#updated{font-size:12px;color:#666}
#updated{margin-left:auto}
.err{color:#b3261e}
h2{font-size:15px;margin:12px 0 6px}
.upstream{background:#fff;border:1px solid #ccd;border-radius:4px;margin-bottom:8px;padding:6px 8px}
.uh{display:flex;flex-wrap:wrap;gap:4px 12px;align-items:baseline}
.uh h3{margin:0;font-size:14px}
.zones{display:flex;gap:6px;margin-top:6px;align-items:flex-start}
.zone{flex:1 1 0;min-width:190px;background:#f6f8fa;border:1px solid #ddd;border-radius:3px;padding:4px}
.zone h4{margin:0;font-size:11px;color:#666}
.server{border:1px solid #ccd;border-left:6px solid var(--c);border-radius:3px;padding:3px 6px;margin-top:4px}
.server b{font-family:ui-monospace,monospace;word-break:break-all}
.server button{float:right}
.st{font-weight:700;font-size:11px;margin:0 6px;text-transform:uppercase;color:var(--c)}
.state-up{--c:#1a7f37;background:#eef8f0}
.state-down{--c:#d1242f;background:#fdeeee}
.state-ejected{--c:#d15f00;background:#fff3e6}
.state-unreachable{--c:#6e0b0b;background:#f2dede}
.state-drained{--c:#889;background:#eee;color:#666}
.badge,.breaker{display:inline-block;padding:0 5px;border-radius:3px;font-size:11px;font-weight:700;background:#ddd}
.breaker-closed{background:#dafbe1;color:#1a7f37}
.breaker-open{background:#d1242f;color:#fff}
.breaker-half_open,.warn{background:#f5b400}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #ccd}
th,td{padding:4px 6px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-size:12px}
tr[data-degraded=true] td{background:#fff4d6}
button,input{font:inherit;font-size:12px;padding:1px 7px}
</style></head><body>
<header id="head"><h1>Sluice</h1>loading…</header>
<div id="banner" hidden></div>
<main>
<div id="prot" class="dim"></div><div id="ctr" class="dim"></div>
<div class="bar"><label>admin token <input type="password" id="token"></label>
<button id="reload">Reload config</button><span id="msg"></span><div id="updated"></div></div>
<h2>Upstreams</h2><div id="ups"></div>
<h2>Routes</h2>
<table><thead><tr><th>Route<th>Upstream<th>Priority<th>Rate limits<th>Degrade<th>Breaker<th>Action</tr></thead>
<tbody id="routes"></tbody></table>
</main>
<script>
'use strict';
const $ = id => document.getElementById(id), q = encodeURIComponent;
let lastOk = 0, busy = false;

// JSON strings only become text nodes or attribute values, never markup.
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) {
    if (k === 'onclick') e.onclick = attrs[k];
    else if (attrs[k] != null) e.setAttribute(k, attrs[k]);
  }
  for (const c of kids) if (c != null && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}
const n = v => typeof v === 'number' && isFinite(v) ? v : 0;
const time = (t, what) => new Date(t)[what]('sv'); // 'sv': local YYYY-MM-DD hh:mm:ss
function dur(s) {
  s = Math.floor(n(s));
  const d = s / 86400 | 0, h = s % 86400 / 3600 | 0, m = s % 3600 / 60 | 0;
  return (d ? d + 'd ' : '') + (s >= 3600 ? h + 'h ' : '') + (s >= 60 ? m + 'm ' : '') + s % 60 + 's';
}
const item = (label, value, title) => el('span', {title}, label + ' ', el('b', null, value));
function breaker(cb, prefix = '') {
  if (!cb) return null;
  const st = String(cb.state);
  return el('span', {class: 'breaker breaker-' + st,
    title: `calls ${n(cb.calls)}, failure ${n(cb.failure_rate)}%, slow ${n(cb.slow_rate)}%`},
    prefix + st.replace('_', '-'));
}

const tok = $('token'), KEY = 'sluiceAdminToken';
try {
  tok.value = sessionStorage.getItem(KEY) || '';
  tok.oninput = () => sessionStorage.setItem(KEY, tok.value.trim());
} catch (e) {}
const auth = () => tok.value.trim() ? {Authorization: 'Bearer ' + tok.value.trim()} : {};

function say(text, bad) { $('msg').textContent = text; $('msg').className = bad ? 'err' : ''; }
async function act(path) {
  say(path + '…');
  try {
    const r = await fetch(path, {method: 'POST', cache: 'no-store', headers: auth()});
    const j = await r.json().catch(() => ({})) || {};
    say(path + ': ' + (j.error || (r.ok ? 'ok' : 'HTTP ' + r.status)), !r.ok || j.error);
  } catch (e) { say(path + ': ' + e.message, true); }
  refresh();
}
$('reload').onclick = () => act('/reload');

function renderHead(s) {
  const c = s.config || {}, rt = s.runtime || {}, lags = (rt.event_loop_lag_seconds || []).map(n);
  const hash = String(c.hash || '-'), p = s.protection, ct = s.counters || {};
  $('head').replaceChildren(el('h1', null, 'Sluice'),
    item('version', s.version || '?'), item('generation', n(s.generation)),
    item('config', hash.slice(0, 12), hash + ' ' + (c.file || '')),
    item('loaded', c.loaded_at ? time(c.loaded_at * 1000, 'toLocaleString') : '-'),
    item('uptime', dur(rt.uptime_seconds)),
    item('RSS', (n(rt.rss_bytes) / 1048576).toFixed(1) + ' MiB'),
    item('fds', n(rt.open_fds) + ' / ' + n(rt.max_fds)),
    item('in-flight', n(rt.inflight_requests)),
    item('clients', n(rt.client_connections)),
    item('loop lag', (Math.max(0, ...lags) * 1000).toFixed(2) + ' ms'),
    c.zone ? item('zone', c.zone) : null);
  $('prot').textContent = p ? `protection: in-flight ${n(p.inflight)} / ${n(p.capacity)}, ` +
    ((p.shedding || []).length ? 'shedding ' + p.shedding.join(', ') : 'not shedding') : '';
  $('ctr').textContent = 'counters: ' + Object.keys(ct).map(k => k + ' ' + ct[k]).join(' · ');
}

function renderServer(u, sv) {
  const st = String(sv.state), cn = sv.connections || {}, off = st === 'drained' || sv.drained;
  const url = `/drain?upstream=${q(u.name)}&server=${q(sv.address)}&state=${off ? 'off' : 'on'}`;
  return el('div', {class: 'server state-' + st, 'data-address': sv.address, 'data-state': st},
    el('button', {onclick: () => act(url), 'data-action': off ? 'undrain' : 'drain'}, off ? 'Undrain' : 'Drain'),
    el('b', null, sv.address), el('span', {class: 'st'}, st),
    sv.backup ? el('span', {class: 'badge'}, 'backup') : null,
    el('div', {class: 'dim'},
      `w ${n(sv.weight)} · in-flight ${n(sv.in_flight)} · req ${n(sv.requests)} · ` +
      `err ${(n(sv.error_rate) * 100).toFixed(1)}% · conn ${n(cn.open)} (${n(cn.idle)} idle)`));
}

function renderUpstream(u, local) {
  const servers = u.servers || [], zones = new Map(), cn = u.connections || {};
  for (const sv of servers) {
    const z = sv.zone == null ? 'none' : String(sv.zone);
    zones.set(z, [...zones.get(z) || [], sv]);
  }
  const rank = z => z === 'none' ? 2 : z === local ? 0 : 1;
  const names = [...zones.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return el('div', {class: 'upstream', 'data-upstream': u.name},
    el('div', {class: 'uh'}, el('h3', null, u.name),
      u.panic ? el('span', {class: 'badge warn'}, 'PANIC') : null,
      breaker(u.circuit_breaker, 'breaker '),
      el('span', null, servers.filter(sv => sv.state === 'up').length + ' / ' + servers.length + ' up'),
      el('span', null, 'active ' + n(u.active_requests)),
      el('span', null, `conns ${n(cn.open)} open / ${n(cn.idle)} idle / ${n(cn.pending)} pending`)),
    el('div', {class: 'zones'}, ...names.map(z => el('div', {class: 'zone', 'data-zone': z},
      el('h4', null, (z === 'none' ? 'no zone' : z === local ? z + ' (local)' : z) + ' · ' + zones.get(z).length),
      ...zones.get(z).map(sv => renderServer(u, sv))))));
}

function renderRoute(r) {
  const deg = !!(r.degraded || r.manual_degrade), url = '/degrade?route=' + q(r.name) + '&state=';
  const rules = r.degrade_rules || [];
  return el('tr', {class: 'route', 'data-route': r.name, 'data-degraded': String(deg)},
    el('td', null, el('b', null, r.name)), el('td', null, r.upstream ?? '-'), el('td', null, r.priority ?? '-'),
    el('td', null, ...(r.rate_limits || []).map(x => el('div', null, x))),
    el('td', null, deg ? el('span', {class: 'badge warn'}, 'DEGRADED') : 'normal',
      r.manual_degrade ? el('span', {class: 'dim'}, ' manual') : null,
      rules.length ? el('div', {class: 'dim'}, 'rules: ' + rules.join(', ')) : null),
    el('td', null, breaker(r.circuit_breaker) || '-'),
    el('td', null, el('button', {onclick: () => act(url + 'on'), 'data-action': 'degrade'}, 'Degrade'), ' ',
      el('button', {onclick: () => act(url + 'off'), 'data-action': 'restore'}, 'Restore')));
}

async function refresh() {
  if (busy) return;
  busy = true;
  const ctl = new AbortController(), timer = setTimeout(() => ctl.abort(), 1900);
  let s;
  try {
    const r = await fetch('/status', {cache: 'no-store', headers: auth(), signal: ctl.signal});
    if (!r.ok) throw Error('HTTP ' + r.status + (r.status === 401 ? ': set the admin token' : ''));
    s = await r.json();
  } catch (e) {
    const b = $('banner');
    b.hidden = false;
    b.textContent = `Gateway unreachable (${e.name === 'AbortError' ? 'timeout' : e.message}) · last update ` +
      (lastOk ? Math.round((Date.now() - lastOk) / 1000) + 's ago' : 'never');
  }
  clearTimeout(timer);
  busy = false;
  if (!s) return;
  lastOk = Date.now();
  $('banner').hidden = true;
  try {
    renderHead(s);
    $('ups').replaceChildren(...(s.upstreams || []).map(u => renderUpstream(u, (s.config || {}).zone)));
    $('routes').replaceChildren(...(s.routes || []).map(renderRoute));
    $('updated').textContent = 'updated ' + time(Date.now(), 'toLocaleTimeString');
  } catch (e) { say('render error: ' + e.message, true); }
}
refresh();
setInterval(refresh, 2000);
</script>
</body></html>
"""#
}
