// The Runnel web UI: hash routes rendered from the JobManager's REST API
// (docs/rest-api.yaml; Apache Flink's JSON shapes). No framework: each page is
// an async function returning HTML, re-run every `refresh-interval` ms.
//
//   #/overview            cluster overview and the jobs list
//   #/jobs/<jid>[/<tab>]  one job: its graph and the tabs vertices,
//                         checkpoints, exceptions
//   #/taskmanagers        TaskManagers and their slots
//
// Every value from the API is escaped (`esc`) before it reaches innerHTML.
'use strict';

(function () {
  const esc = window.RunnelGraph.esc;
  const main = document.getElementById('main');
  const state = { refreshMs: 3000, timeZone: undefined, timer: null, seq: 0, route: '', html: '', shown: '' };

  // ---------------------------------------------------------------- the API

  function token() {
    try { return localStorage.getItem('runnelToken') || ''; } catch (e) { return ''; }
  }

  // `path` is relative (no leading slash) so the UI also works under a proxy prefix.
  async function api(path, method = 'GET', body = undefined) {
    const headers = { Accept: 'application/json' };
    if (token()) headers.Authorization = 'Bearer ' + token();
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const where = `${method} /${path}`;
    let res;
    try {
      res = await fetch(path, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new Error(`${where} failed: the JobManager is unreachable (${e.message})`);
    }
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = undefined; }
    if (!res.ok) {
      if (res.status === 401) showTokenForm();
      const detail = json && Array.isArray(json.errors) ? json.errors.join('; ') : text || res.statusText;
      throw new Error(`${where} failed: ${res.status} ${detail}`);
    }
    if (json === undefined) throw new Error(`${where} returned invalid JSON`);
    return json;
  }

  // ------------------------------------------------------------- formatting

  const dash = '–';

  function date(ms) {
    if (typeof ms !== 'number' || ms <= 0) return dash;
    const options = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false };
    try {
      return new Intl.DateTimeFormat('en-CA', { ...options, timeZone: state.timeZone }).format(new Date(ms)).replace(',', '');
    } catch (e) {
      return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
    }
  }

  function duration(ms) {
    if (typeof ms !== 'number' || ms < 0) return dash;
    if (ms < 1000) return `${Math.round(ms)} ms`;
    let s = Math.floor(ms / 1000);
    const parts = [[86400, 'd'], [3600, 'h'], [60, 'm'], [1, 's']].flatMap(([unit, name]) => {
      const n = Math.floor(s / unit);
      s -= n * unit;
      return n ? [`${n}${name}`] : [];
    });
    return parts.slice(0, 2).join(' ');
  }

  function count(n) {
    if (typeof n !== 'number' || n < 0) return dash;
    if (n < 10000) return String(n);
    const [div, unit] = n >= 1e9 ? [1e9, 'G'] : n >= 1e6 ? [1e6, 'M'] : [1e3, 'K'];
    return `${(n / div).toFixed(1)} ${unit}`;
  }

  function bytes(n) {
    if (typeof n !== 'number' || n < 0) return dash;
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
  }

  function percent(ratio) {
    return typeof ratio === 'number' ? `${Math.round(ratio * 100)}%` : dash;
  }

  function badge(value, kind = 'state') {
    const v = String(value || 'UNKNOWN');
    return `<span class="${kind} ${kind}-${esc(v.toLowerCase())}">${esc(v)}</span>`;
  }

  function table(headers, rows, empty) {
    if (!rows.length) return `<p class="muted">${esc(empty)}</p>`;
    return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>` +
      `<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  }

  function card(label, value) {
    return `<div class="card"><div class="card-value">${esc(value)}</div><div class="card-label">${esc(label)}</div></div>`;
  }

  // A task count: lower-case keys as in /jobs/overview; upper-case as older Flink
  // job details send them.
  function tasks(t, key) {
    return t ? t[key] ?? t[key.toUpperCase()] ?? 0 : 0;
  }

  function taskCounts(t) {
    const shown = ['running', 'finished', 'canceled', 'failed', 'created', 'scheduled', 'deploying', 'initializing', 'canceling', 'reconciling'];
    return `<span class="tasks"><b>${esc(tasks(t, 'total'))}</b>` + shown.filter((k) => tasks(t, k))
      .map((k) => `<span class="task task-${k}" title="${k}">${esc(tasks(t, k))}</span>`).join('') + '</span>';
  }

  // ------------------------------------------------------------------ pages

  async function overviewPage() {
    // The cards still show when only the jobs list fails, and vice versa.
    const [ov, list] = await Promise.all([api('overview'), api('jobs/overview').catch((e) => e)]);
    const jobs = list instanceof Error ? [] : [...(list.jobs || [])].sort((a, b) => b['start-time'] - a['start-time']);
    const rows = jobs.map((j) => [
      `<a href="#/jobs/${esc(j.jid)}">${esc(j.name)}</a>`, badge(j.state), esc(date(j['start-time'])),
      esc(duration(j.duration)), esc(date(j['end-time'])), taskCounts(j.tasks),
    ]);
    return '<h1>Cluster overview</h1><div class="cards">' +
      card('TaskManagers', ov.taskmanagers) +
      card('Slots available / total', `${ov['slots-available']} / ${ov['slots-total']}`) +
      card('Jobs running', ov['jobs-running']) + card('Jobs finished', ov['jobs-finished']) +
      card('Jobs cancelled', ov['jobs-cancelled']) + card('Jobs failed', ov['jobs-failed']) + '</div>' +
      '<h2>Jobs</h2>' + (list instanceof Error ? errorBox(list)
        : table(['Name', 'State', 'Start time', 'Duration', 'End time', 'Tasks'], rows, 'No jobs yet.'));
  }

  async function taskManagersPage() {
    const { taskmanagers = [] } = await api('taskmanagers');
    const rows = taskmanagers.map((tm) => [
      `<code>${esc(tm.id)}</code>`, esc(tm.path), esc(tm.dataPort), esc(tm.slotsNumber), esc(tm.freeSlots),
      esc(tm.hardware ? tm.hardware.cpuCores : dash), esc(tm.hardware ? bytes(tm.hardware.physicalMemory) : dash),
      esc(date(tm.timeSinceLastHeartbeat)),
    ]);
    return '<h1>TaskManagers</h1>' + table(
      ['ID', 'Address', 'Data port', 'Slots', 'Free slots', 'CPU cores', 'Memory', 'Last heartbeat'],
      rows, 'No TaskManager has registered.');
  }

  const TERMINAL = ['FINISHED', 'CANCELED', 'FAILED'];

  async function jobPage(jid, tab) {
    const job = await api(`jobs/${encodeURIComponent(jid)}`);
    const plan = job.plan || (await api(`jobs/${encodeURIComponent(jid)}/plan`)).plan;
    const vertices = job.vertices || [];
    // Backpressure is sampled per vertex; one failing sample must not hide the job.
    const pressure = await Promise.all(vertices.map((v) =>
      api(`jobs/${encodeURIComponent(jid)}/vertices/${encodeURIComponent(v.id)}/backpressure`).catch(() => null)));
    const byId = new Map(vertices.map((v, i) => [v.id, { vertex: v, bp: pressure[i] }]));
    const info = (node) => {
      const { vertex = {}, bp = null } = byId.get(node.id) || {};
      const m = vertex.metrics || {};
      return {
        id: node.id, name: vertex.name || node.description || node.id,
        detail: (node.description || '').replace(/<br\s*\/?>/g, '\n'),
        parallelism: vertex.parallelism ?? node.parallelism,
        recordsIn: count(m['read-records']), recordsOut: count(m['write-records']),
        backpressure: bp ? bp['backpressure-level'] || bp.backpressureLevel || '' : '',
      };
    };
    const running = !TERMINAL.includes(job.state);
    const base = `#/jobs/${esc(jid)}`;
    const tabs = [['vertices', 'Vertices'], ['checkpoints', 'Checkpoints'], ['exceptions', 'Exceptions']]
      .map(([id, label]) => `<a class="tab${id === tab ? ' active' : ''}" href="${base}/${id}">${label}</a>`).join('');
    // A failing tab shows its error under a still-working graph.
    const body = await (tab === 'checkpoints' ? checkpointsTab(jid)
      : tab === 'exceptions' ? exceptionsTab(jid)
        : Promise.resolve(verticesTab(vertices, byId))).catch(errorBox);
    return `<div class="job-head"><div><h1>${esc(job.name)} ${badge(job.state)}</h1>` +
      `<p class="muted"><code>${esc(job.jid)}</code> · started ${esc(date(job['start-time']))} · ` +
      `duration ${esc(duration(job.duration))}${job['end-time'] > 0 ? ` · ended ${esc(date(job['end-time']))}` : ''}</p></div>` +
      `<div class="actions"><button data-action="savepoint" data-jid="${esc(jid)}"${running ? '' : ' disabled'}>Trigger savepoint</button>` +
      `<button class="danger" data-action="cancel" data-jid="${esc(jid)}"${running ? '' : ' disabled'}>Cancel job</button></div></div>` +
      `<section class="graph">${window.RunnelGraph.svg((plan && plan.nodes) || [], info)}</section>` +
      `<nav class="tabs">${tabs}</nav><section class="tab-body">${body}</section>`;
  }

  function verticesTab(vertices, byId) {
    const rows = vertices.map((v) => {
      const m = v.metrics || {};
      const bp = byId.get(v.id).bp;
      const subtasks = (bp && bp.subtasks) || [];
      const max = (key) => (subtasks.length ? Math.max(...subtasks.map((s) => s[key] || 0)) : undefined);
      const level = bp ? bp['backpressure-level'] || bp.backpressureLevel : '';
      return [
        esc(v.name), badge(v.status), esc(v.parallelism), esc(count(m['read-records'])), esc(count(m['write-records'])),
        esc(bytes(m['read-bytes'])), esc(bytes(m['write-bytes'])),
        level ? `${badge(level.toUpperCase(), 'bp')} ${esc(percent(max('ratio')))}` : dash,
        esc(percent(max('busyRatio'))), taskCounts(v.tasks),
      ];
    });
    return table(['Name', 'Status', 'Parallelism', 'Records in', 'Records out', 'Bytes in', 'Bytes out',
      'Backpressure (max)', 'Busy (max)', 'Tasks'], rows, 'This job has no vertices.');
  }

  function checkpointLine(label, c) {
    if (!c) return `<tr><th>${esc(label)}</th><td colspan="4" class="muted">none</td></tr>`;
    return `<tr><th>${esc(label)}</th><td>#${esc(c.id)}</td><td>${esc(date(c.latest_ack_timestamp || c.restore_timestamp))}</td>` +
      `<td>${esc(c.end_to_end_duration === undefined ? dash : duration(c.end_to_end_duration))}</td>` +
      `<td><code>${esc(c.external_path || dash)}</code></td></tr>`;
  }

  async function checkpointsTab(jid) {
    const cp = await api(`jobs/${encodeURIComponent(jid)}/checkpoints`);
    const c = cp.counts || {};
    const latest = cp.latest || {};
    const s = cp.summary || {};
    const stat = (name, key, fmt) => {
      const v = s[key] || {};
      return [esc(name), esc(fmt(v.min)), esc(fmt(v.avg)), esc(fmt(v.max))];
    };
    const history = (cp.history || []).map((h) => [
      `#${esc(h.id)}`, badge(h.status), esc(h.is_savepoint ? 'savepoint' : 'checkpoint'), esc(date(h.trigger_timestamp)),
      esc(date(h.latest_ack_timestamp)), `${esc(h.num_acknowledged_subtasks)}/${esc(h.num_subtasks)}`,
      esc(duration(h.end_to_end_duration)), esc(bytes(h.checkpointed_size)), esc(bytes(h.state_size)),
    ]);
    return '<div class="cards">' + card('Triggered', c.total ?? dash) + card('In progress', c.in_progress ?? dash) +
      card('Completed', c.completed ?? dash) + card('Failed', c.failed ?? dash) + card('Restored', c.restored ?? dash) + '</div>' +
      '<h2>Latest</h2><table class="latest"><tbody>' + checkpointLine('Completed', latest.completed) +
      checkpointLine('Savepoint', latest.savepoint) + checkpointLine('Failed', latest.failed) +
      checkpointLine('Restored', latest.restored) + '</tbody></table>' +
      '<h2>Summary</h2>' + table(['', 'Min', 'Avg', 'Max'], [
        stat('End-to-end duration', 'end_to_end_duration', duration), stat('Checkpointed size', 'checkpointed_size', bytes),
        stat('State size', 'state_size', bytes)], '') +
      '<h2>History</h2>' + table(['ID', 'Status', 'Type', 'Triggered', 'Acknowledged', 'Subtasks', 'End to end', 'Checkpointed', 'State'],
      history, 'No checkpoints yet.');
  }

  async function exceptionsTab(jid) {
    const ex = await api(`jobs/${encodeURIComponent(jid)}/exceptions`);
    const entries = (ex.exceptionHistory && ex.exceptionHistory.entries) || [];
    const root = ex['root-exception']
      ? `<h2>Root exception <span class="muted">${esc(date(ex.timestamp))}</span></h2><pre class="stack">${esc(ex['root-exception'])}</pre>`
      : '<p class="muted">No root exception: the job has not failed.</p>';
    const history = entries.map((e, i) => `<details class="exception" data-key="${esc(e.timestamp)}-${i}"><summary>${esc(date(e.timestamp))} · ` +
      `<b>${esc(e.exceptionName)}</b> · ${esc(e.taskName || dash)} · ${esc(e.location || dash)}</summary>` +
      `<pre class="stack">${esc(e.stacktrace)}</pre></details>`).join('');
    return root + '<h2>History</h2>' + (history || '<p class="muted">No exceptions.</p>') +
      (ex.exceptionHistory && ex.exceptionHistory.truncated ? '<p class="muted">Older exceptions were dropped.</p>' : '');
  }

  // ---------------------------------------------------------------- routing

  function errorBox(e) {
    return `<div class="error" role="alert"><b>Could not load this page.</b><pre>${esc(e.message)}</pre></div>`;
  }

  function route() {
    const parts = (location.hash.replace(/^#\/?/, '') || 'overview').split('/').map(decodeURIComponent);
    if (parts[0] === 'jobs' && parts[1]) return { key: 'job', render: () => jobPage(parts[1], parts[2] || 'vertices') };
    if (parts[0] === 'taskmanagers') return { key: 'taskmanagers', render: taskManagersPage };
    return { key: 'overview', render: overviewPage };
  }

  async function refresh() {
    clearTimeout(state.timer);
    const seq = ++state.seq;
    const r = route();
    document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === r.key));
    let html;
    try {
      html = await r.render();
      if (seq === state.seq) { state.route = location.hash; state.html = html; }
    } catch (e) {
      // Keep what was shown for this route under the error: a failed poll must
      // not blank the page.
      html = errorBox(e) + (state.route === location.hash ? state.html : '');
    }
    if (seq !== state.seq) return; // a newer refresh (route change) overtook this one
    if (html !== state.shown) {
      // Re-rendering must not fold the stack traces the user opened.
      const open = [...main.querySelectorAll('details[open]')].map((d) => d.dataset.key);
      main.innerHTML = html;
      state.shown = html;
      main.querySelectorAll('details[data-key]').forEach((d) => { d.open = open.includes(d.dataset.key); });
    }
    state.timer = setTimeout(refresh, state.refreshMs);
  }

  // ---------------------------------------------------------------- actions

  function flash(message, kind = 'ok') {
    const el = document.getElementById('flash');
    el.className = `banner ${kind}`;
    el.textContent = message;
    el.hidden = false;
  }

  function showTokenForm() {
    document.getElementById('token').hidden = false;
  }

  async function cancelJob(jid) {
    if (!window.confirm(`Cancel job ${jid}?`)) return;
    await api(`jobs/${encodeURIComponent(jid)}?mode=cancel`, 'PATCH');
    flash(`Cancellation of job ${jid} requested.`);
  }

  async function triggerSavepoint(jid) {
    const base = `jobs/${encodeURIComponent(jid)}/savepoints`;
    const { 'request-id': id } = await api(base, 'POST', { 'target-directory': null, 'cancel-job': false });
    flash(`Savepoint ${id} triggered…`);
    for (let i = 0; i < 120; i += 1) {
      await new Promise((done) => setTimeout(done, 1000));
      const s = await api(`${base}/${encodeURIComponent(id)}`);
      if (s.status && s.status.id === 'COMPLETED') {
        const op = s.operation || {};
        if (op['failure-cause']) throw new Error(`Savepoint failed: ${op['failure-cause'].class || 'unknown cause'}`);
        flash(`Savepoint completed: ${op.location}`);
        return;
      }
    }
    flash(`Savepoint ${id} is still in progress; see the Checkpoints tab.`, 'warn');
  }

  main.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (!button) return;
    const action = button.dataset.action === 'cancel' ? cancelJob : triggerSavepoint;
    button.disabled = true;
    action(button.dataset.jid)
      .catch((e) => flash(e.message, 'error'))
      .finally(() => { button.disabled = false; refresh(); });
  });

  document.getElementById('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = document.getElementById('token-input').value.trim();
    try {
      if (value) localStorage.setItem('runnelToken', value); else localStorage.removeItem('runnelToken');
    } catch (e) { flash(`Cannot store the token: ${e.message}`, 'error'); }
    document.getElementById('token').hidden = true;
    refresh();
  });

  // ------------------------------------------------------------------- start

  async function start() {
    try {
      const config = await api('config');
      if (config['refresh-interval'] > 0) state.refreshMs = config['refresh-interval'];
      state.timeZone = config['timezone-name'] || undefined;
      document.getElementById('version').textContent = config['runnel-version'] ? `v${config['runnel-version']}` : '';
    } catch (e) {
      flash(`${e.message} (polling every ${state.refreshMs} ms)`, 'error');
    }
    window.addEventListener('hashchange', refresh);
    refresh();
  }

  start();
})();
