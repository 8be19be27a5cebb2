// One run: live curves, details, files, logs following live, events with anomalies.
import { api, live, query } from "../api.js";
import { chart, smooth } from "../chart.js";
import { append, clear, fmt, h, kv, progress, statusBadge } from "../dom.js";

const ACTIVE = ["pending", "running"];
window.__mosaicCurve = window.__mosaicCurve || [];

export async function render(view, runId) {
  let run = await api(`/api/runs/${encodeURIComponent(runId)}`);
  runId = run.run_id;
  const state = { keys: [], series: {}, charts: {}, smoothing: 0, log: false, x: "step", tab: "details", logName: "stdout", logNext: null };
  const header = h("div");
  const pills = h("div", { class: "toolbar" });
  const charts = h("div", { id: "charts" });
  const tabBody = h("div");
  const tabs = h("div", { class: "tabs" });
  const controls = h("div", { class: "toolbar" },
    h("label", {}, "smoothing ", h("input", { type: "range", min: 0, max: 0.99, step: 0.01, value: 0, name: "smoothing",
      oninput: (e) => { state.smoothing = Number(e.target.value); redraw(); } })),
    h("label", {}, h("input", { type: "checkbox", name: "log", onchange: (e) => { state.log = e.target.checked; rebuild(); } }), " log y"),
    h("label", {}, "x ", h("select", { name: "x", onchange: (e) => { state.x = e.target.value; rebuild(); } },
      h("option", { value: "step" }, "step"), h("option", { value: "time" }, "time (s)"))));
  view.append(header, h("h2", {}, "Learning curves"), pills, controls, charts, tabs, tabBody);

  function paintHeader() {
    const active = ACTIVE.includes(run.status);
    append(clear(header), [
      h("h1", {}, h("span", { class: "mono" }, run.run_id), " ", statusBadge(run.status)),
      h("div", { class: "toolbar" },
        h("span", {}, `${run.worker_type} · ${run.algorithm || "–"} · ${run.env_id || "–"} · seed ${fmt(run.seed)}`),
        run.group ? h("a", { href: `#/runs?group=${encodeURIComponent(run.group)}` }, `group ${run.group}`) : null,
        progress(run.step, run.total_steps),
        run.metric && run.metric.key ? h("span", { class: "muted" }, `${run.metric.key}: ${fmt(run.metric.value)}`) : null,
        h("a", { href: `#/launch/${encodeURIComponent(run.worker_type)}?from=${encodeURIComponent(run.run_id)}` }, "run again"),
        active ? h("button", { class: "danger", id: "cancel", onclick: cancel }, "Cancel") : null,
        !active ? h("button", { class: "danger", id: "delete", onclick: remove }, "Delete") : null),
      run.reason && run.status !== "completed" ? h("div", { class: "banner" }, `${run.status}: ${run.reason}${run.error && run.error !== run.reason ? ` — ${run.error}` : ""}`) : null]);
  }

  async function cancel() {
    if (!confirm(`Cancel run ${run.run_id}? Its worker and all its processes are stopped.`)) return;
    try { await api(`/api/runs/${run.run_id}/cancel`, { method: "POST" }); } catch (e) { alert(e.message); }
    await refresh();
  }
  async function remove() {
    if (!confirm(`Delete run ${run.run_id} and its directory? This cannot be undone.`)) return;
    try { await api(`/api/runs/${run.run_id}`, { method: "DELETE" }); location.hash = "#/runs"; } catch (e) { alert(e.message); }
  }

  function defaultKeys(keys) {
    const head = run.metric && run.metric.key;
    const rest = keys.filter((k) => k !== head);
    return [...(head ? [head] : []), ...rest].slice(0, 4);
  }

  function paintPills() {
    clear(pills).append(h("span", { class: "muted" }, "metrics: "), ...run.metric_keys.map((key) =>
      h("span", { class: `pill ${state.keys.includes(key) ? "on" : ""}`, "data-key": key, onclick: () => toggle(key) }, key)));
    if (!run.metric_keys.length) pills.append(h("span", { class: "muted" }, ACTIVE.includes(run.status) ? "none yet: waiting for the first metrics…" : "this run reported no metrics"));
  }

  async function toggle(key) {
    state.keys = state.keys.includes(key) ? state.keys.filter((k) => k !== key) : [...state.keys, key];
    paintPills();
    await loadSeries(state.keys.filter((k) => !state.series[k]));
    rebuild();
  }

  async function loadSeries(keys) {
    if (!keys.length) return;
    const data = await api(`/api/runs/${run.run_id}/metrics${query({ key: keys, points: 2000 })}`);
    for (const key of keys) if (data.series[key]) state.series[key] = data.series[key];
    if (!state.follow) state.follow = data.follow;
  }

  function lineOf(key) {
    const s = state.series[key];
    const t0 = s.timestamps.length ? s.timestamps[0] : 0;
    const xs = state.x === "time" ? s.timestamps.map((t) => t - t0) : s.steps;
    let ys = smooth(s.values, state.smoothing);
    if (state.log) ys = ys.map((v) => (v > 0 ? v : null));
    return { label: key, xs, ys };
  }

  function rebuild() {
    for (const c of Object.values(state.charts)) c.destroy();
    state.charts = {};
    for (const key of state.keys) if (state.series[key]) state.charts[key] = chart(charts, key, [lineOf(key)], { log: state.log, xLabel: state.x === "time" ? "seconds" : "step" });
  }
  function redraw() { for (const key of state.keys) if (state.charts[key] && state.series[key]) state.charts[key].update([lineOf(key)]); }

  // Points straight from the run's events.jsonl (the server follows the file from where
  // the store's index stood when the curve was read), so a lagging index delays nothing.
  let source = null, frame = 0;
  const drawn = [];
  function follow() {
    if (source || !ACTIVE.includes(run.status)) return;
    const from = state.follow || {};
    source = new EventSource(`/api/runs/${encodeURIComponent(run.run_id)}/stream${query({ offset: from.offset, seq: from.seq })}`);
    source.addEventListener("hello", () => { window.__mosaicFollowing = Date.now(); });
    source.addEventListener("metrics", (event) => {
      const message = JSON.parse(event.data);
      let unknown = false;
      for (const point of message.points) {
        for (const [key, value] of Object.entries(point.values)) {
          if (!run.metric_keys.includes(key)) { unknown = true; continue; }
          const s = state.series[key];
          if (!s || typeof value !== "number" || !Number.isFinite(value)) continue;
          if (s.steps.length && point.step <= s.steps[s.steps.length - 1]) continue;
          s.steps.push(point.step); s.values.push(value); s.timestamps.push(point.timestamp); s.count += 1;
          drawn.push({ run: run.run_id, key, step: point.step });
        }
      }
      if (unknown) refresh();
      if (!frame) frame = requestAnimationFrame(() => {
        frame = 0;
        redraw();
        const at = Date.now();
        for (const d of drawn.splice(0)) window.__mosaicCurve.push({ ...d, at });
      });
    });
    source.addEventListener("end", () => { source.close(); source = null; refresh(); });
  }

  const tabNames = { details: "Details", files: "Files", logs: "Logs", events: "Events" };
  function paintTabs() {
    clear(tabs).append(...Object.entries(tabNames).map(([name, label]) =>
      h("button", { class: state.tab === name ? "active" : "", "data-tab": name, onclick: () => { state.tab = name; paintTabs(); paintTab(); } }, label)));
  }

  async function paintTab() {
    clear(tabBody);
    if (state.tab === "details") return paintDetails();
    if (state.tab === "files") return paintFiles();
    if (state.tab === "logs") { state.logNext = null; return paintLogs(); }
    if (state.tab === "events") return paintEvents();
  }

  function paintDetails() {
    const prov = run.provenance || {};
    const summary = Object.fromEntries(Object.entries(run.summary || {}).filter(([, v]) => typeof v !== "object"));
    tabBody.append(h("div", { class: "grid" },
      h("div", { class: "card" }, h("h3", {}, "Run"), kv([["status", run.status], ["reason", run.reason], ["created", new Date(run.created_at * 1000).toLocaleString()],
        ["started", run.started_at && new Date(run.started_at * 1000).toLocaleString()], ["ended", run.ended_at && new Date(run.ended_at * 1000).toLocaleString()],
        ["exit", run.signal || run.exit_code], ["events", run.events], ["anomalies", run.anomalies.length], ["env", run.env_name], ["directory", run.run_dir]])),
      h("div", { class: "card", id: "config" }, h("h3", {}, "Config"), kv(Object.entries(run.config).filter(([k]) => k !== "run_id"))),
      h("div", { class: "card" }, h("h3", {}, "Summary"), kv(Object.entries(summary))),
      h("div", { class: "card" }, h("h3", {}, "Final metrics"), kv(Object.entries(run.final_metrics))),
      h("div", { class: "card" }, h("h3", {}, "Provenance"), kv([["mosaic-core", prov.mosaic_core], ["worker", prov.worker && `${prov.worker.distribution || prov.worker.type} ${prov.worker.version || ""}`],
        ["python", prov.python], ["host", prov.host], ["git", prov.git && `${prov.git.commit}${prov.git.dirty ? " (modified)" : ""}`],
        ["packages", prov.packages && Object.keys(prov.packages).length]])),
      h("div", { class: "card" }, h("h3", {}, "Manifest"), run.manifest ? h("pre", { class: "mono" }, JSON.stringify(run.manifest.artifacts || run.manifest, null, 2)) : h("span", { class: "muted" }, "none written"))));
  }

  function paintFiles() {
    const gifs = run.files.filter((f) => /\.(gif|png|jpe?g|webp)$/i.test(f.path));
    const link = (f) => `/api/runs/${run.run_id}/files/${f.path.split("/").map(encodeURIComponent).join("/")}`;
    append(tabBody, [
      gifs.length ? h("div", { class: "toolbar" }, gifs.map((f) => h("figure", {}, h("img", { class: "gif", src: link(f), alt: f.path }), h("figcaption", { class: "mono" }, f.path)))) : null,
      h("table", {}, h("tbody", {}, run.files.map((f) => h("tr", {}, h("td", { class: "mono" }, h("a", { href: link(f), target: "_blank", rel: "noopener" }, f.path)), h("td", { class: "num" }, fmt(f.size))))))]);
  }

  async function paintLogs() {
    if (!tabBody.querySelector("pre")) {
      tabBody.append(h("div", { class: "toolbar" }, h("select", { name: "log", onchange: (e) => { state.logName = e.target.value; state.logNext = null; clear(tabBody); paintLogs(); } },
        ["stdout", "stderr", "supervisor"].map((n) => h("option", { value: n, selected: state.logName === n }, n)))), h("pre", { class: "log", id: "log" }));
    }
    const pre = tabBody.querySelector("pre");
    const data = await api(`/api/runs/${run.run_id}/logs${query({ name: state.logName, offset: state.logNext })}`);
    if (state.logNext === null && data.offset > 0) pre.append(`… (${fmt(data.offset)} bytes before)\n`);
    pre.append(data.text);
    state.logNext = data.next;
    if (data.text) pre.scrollTop = pre.scrollHeight;
    if (!pre.textContent) pre.textContent = "(empty)";
  }

  async function paintEvents() {
    const data = await api(`/api/runs/${run.run_id}/events?limit=200`);
    append(tabBody, [
      data.anomalies.length ? h("div", { class: "banner" }, `${data.anomalies.length} anomal${data.anomalies.length === 1 ? "y" : "ies"} in the telemetry:`,
        h("ul", {}, data.anomalies.map((a) => h("li", { class: "anomaly" }, `${a.kind}: ${a.detail}`)))) : null,
      h("p", { class: "muted" }, `${data.total} events; the last ${data.events.length}:`),
      h("table", { id: "events" }, h("thead", {}, h("tr", {}, ["seq", "event", "time", "payload"].map((c) => h("th", {}, c)))),
        h("tbody", {}, data.events.map((e, i) => {
          const gap = i > 0 && e.seq !== data.events[i - 1].seq + 1;
          return h("tr", { class: gap ? "anomaly" : "" }, h("td", { class: "num" }, e.seq), h("td", {}, e.event), h("td", {}, new Date(e.timestamp * 1000).toLocaleTimeString()),
            h("td", { class: "mono", style: "white-space:normal" }, JSON.stringify(e.payload).slice(0, 300)));
        })))]);
  }

  let refreshing = null;
  function refresh() {
    if (!refreshing) refreshing = reload().finally(() => { refreshing = null; });
    return refreshing;
  }
  async function reload() {
    const before = run.metric_keys.join();
    run = await api(`/api/runs/${runId}`);
    paintHeader();
    if (state.tab === "details" || state.tab === "files") paintTab();
    if (run.metric_keys.join() !== before) {
      if (!state.keys.length) state.keys = defaultKeys(run.metric_keys);
      paintPills();
      await loadSeries(state.keys.filter((k) => !state.series[k]));
      rebuild();
    }
    follow();
  }

  paintHeader();
  state.keys = defaultKeys(run.metric_keys);
  paintPills();
  await loadSeries(state.keys);
  rebuild();
  paintTabs();
  paintTab();
  follow();

  let busy = false, again = false, ended = false;
  async function update() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      do {
        again = false;
        paintHeader();
        // The details again only when they change: the run ended, or it has no metric yet
        // (a new key on a running run comes through the stream, which asks for them).
        if (ended || !run.metric_keys.length) { ended = false; await refresh(); }
      } while (again);
    } finally { busy = false; }
  }
  const stop = live((msg) => {
    if ((msg.deleted || []).includes(runId)) { location.hash = "#/runs"; return; }
    const mine = (msg.runs || []).find((r) => r.run_id === runId);
    if (!mine) return;
    ended = ended || mine.status !== run.status;
    Object.assign(run, mine);
    update();
  });
  const logs = setInterval(() => { if (state.tab === "logs" && ACTIVE.includes(run.status)) paintLogs(); }, 1000);
  return () => { stop(); clearInterval(logs); if (source) source.close(); for (const c of Object.values(state.charts)) c.destroy(); };
}
