// The run table: live, filtered, searched, sorted, grouped by sweep.
import { api, live, query } from "../api.js";
import { age, clear, fmt, h, progress, statusBadge } from "../dom.js";

const COLUMNS = [
  ["run_id", "Run"], ["status", "Status"], ["worker", "Worker"], ["algorithm", "Algorithm"],
  ["env_id", "Env"], ["seed", "Seed"], ["group", "Group"], ["step", "Progress"],
  ["metric", "Headline"], ["created", "Age"],
];

export async function render(view, _arg, params, shown = () => true) {
  const state = {
    q: params.get("q") || "", status: params.get("status") || "", worker: params.get("worker") || "",
    group: params.get("group") || "", filter: params.get("filter") || "", sort: params.get("sort") || "",
    bySweep: params.get("by") === "group", rows: [], total: 0, selected: new Set(),
  };
  // The table first; the worker and group choices fill in when they come.
  const first = api(`/api/runs${query(params_of(state))}`);
  const lists = Promise.all([api("/api/workers"), api("/api/groups")]);
  const message = h("div");
  const count = h("span", { class: "muted" });
  const body = h("tbody");
  const head = h("tr");
  const compareButton = h("button", { disabled: true, onclick: () => {
    location.hash = `#/compare${query({ run: [...state.selected] })}`;
  } }, "Compare selected");
  const option = (name, o) => h("option", { value: o, selected: state[name] === o }, o);
  const select = (name, options, label) => h("select", { name, "aria-label": label, onchange: (e) => { state[name] = e.target.value; load(); } },
    h("option", { value: "" }, label), options.map((o) => option(name, o)));
  const workerSelect = select("worker", state.worker ? [state.worker] : [], "any worker");
  const groupSelect = select("group", state.group ? [state.group] : [], "any group");
  lists.then(([workers, groups]) => {
    const fill = (el, name, values) => { for (const v of values) if (v !== state[name]) el.append(option(name, v)); };
    fill(workerSelect, "worker", [...workers.workers.map((w) => w.worker_type), "eval"]);
    fill(groupSelect, "group", groups.groups.map((g) => g.name));
  }, () => {});
  const toolbar = h("div", { class: "toolbar" },
    h("input", { type: "search", name: "q", placeholder: "search id, worker, env, group…", value: state.q, style: "width:240px",
      oninput: debounce((e) => { state.q = e.target.value; load(); }, 250) }),
    select("status", ["pending", "running", "completed", "failed", "cancelled"], "any status"),
    workerSelect,
    groupSelect,
    h("input", { type: "text", name: "filter", placeholder: "filter, e.g. config.epsilon<0.2", value: state.filter, style: "width:240px",
      onkeydown: (e) => { if (e.key === "Enter") { state.filter = e.target.value.trim(); load(); } } }),
    h("label", {}, h("input", { type: "checkbox", name: "by-sweep", checked: state.bySweep, onchange: (e) => { state.bySweep = e.target.checked; paint(); } }), " group by sweep"),
    compareButton, count);
  view.append(h("h1", {}, "Runs"), toolbar, message, h("table", { id: "runs" }, h("thead", {}, head), body));

  function paintHead() {
    clear(head).append(h("th", {}), ...COLUMNS.map(([field, label]) => {
      const dir = state.sort === field ? "asc" : state.sort === `-${field}` ? "desc" : "";
      return h("th", { class: `sortable ${dir ? `sorted-${dir}` : ""} ${["seed", "metric"].includes(field) ? "num" : ""}`,
        onclick: () => { state.sort = state.sort === `-${field}` ? field : `-${field}`; paintHead(); load(); } }, label);
    }));
  }

  function row(r) {
    const box = h("input", { type: "checkbox", checked: state.selected.has(r.run_id), "aria-label": `select ${r.run_id}`,
      onchange: (e) => { e.target.checked ? state.selected.add(r.run_id) : state.selected.delete(r.run_id); compareButton.disabled = state.selected.size < 1; } });
    const metric = r.metric && r.metric.key ? h("span", { title: `${r.metric.key} (${r.metric.stat})` }, fmt(r.metric.value)) : "–";
    return h("tr", { "data-run": r.run_id },
      h("td", {}, box),
      h("td", { class: "mono" }, h("a", { href: `#/run/${encodeURIComponent(r.run_id)}` }, r.run_id)),
      h("td", { title: r.reason || "" }, statusBadge(r.status)),
      h("td", {}, r.worker_type), h("td", {}, r.algorithm || "–"), h("td", {}, r.env_id || "–"),
      h("td", { class: "num" }, fmt(r.seed)),
      h("td", {}, r.group ? h("a", { href: `#/runs?group=${encodeURIComponent(r.group)}` }, r.group) : "–"),
      h("td", {}, progress(r.step, r.total_steps)),
      h("td", { class: "num" }, metric),
      h("td", { title: new Date(r.created_at * 1000).toLocaleString() }, age(r.created_at)));
  }

  function paint() {
    clear(body);
    count.textContent = `${state.total.toLocaleString("en-US")} run${state.total === 1 ? "" : "s"}${state.total > state.rows.length ? ` (first ${state.rows.length} shown)` : ""}`;
    if (!state.rows.length) {
      body.append(h("tr", {}, h("td", { colspan: COLUMNS.length + 1, class: "muted" }, state.total === 0 && !state.q && !state.filter && !state.status && !state.worker && !state.group
        ? "No runs yet. Start one from Launch, or with `mosaic run WORKER`." : "No runs match.")));
      return;
    }
    if (!state.bySweep) { body.append(...state.rows.map(row)); return; }
    const byGroup = new Map();
    for (const r of state.rows) { const key = r.group || ""; if (!byGroup.has(key)) byGroup.set(key, []); byGroup.get(key).push(r); }
    for (const [name, rows] of byGroup) {
      const link = name ? h("a", { href: `#/compare${query({ group: name })}` }, "compare") : null;
      body.append(h("tr", { class: "grouphead" }, h("td", { colspan: COLUMNS.length + 1 }, name || "(no group)", ` · ${rows.length} runs `, link)));
      body.append(...rows.map(row));
    }
  }

  async function load(ready) {
    const params = params_of(state);
    if (!shown()) return;
    history.replaceState(null, "", `#/runs${query({ q: state.q, status: state.status, worker: state.worker, group: state.group, sort: state.sort, filter: state.filter, by: state.bySweep ? "group" : "" })}`);
    try {
      const data = await (ready || api(`/api/runs${query(params)}`));
      state.rows = data.runs; state.total = data.total; clear(message);
    } catch (error) {
      clear(message).append(h("div", { class: "banner" }, error.message));
    }
    paint();
  }

  paintHead();
  await load(first.catch((error) => { throw error; }));
  const reload = debounce(load, 300);
  const repaint = throttle(paint, 250);
  const stop = live((msg) => {
    if (msg.resync || (msg.deleted && msg.deleted.length)) return reload();
    let missing = false;
    for (const changed of msg.runs || []) {
      const i = state.rows.findIndex((r) => r.run_id === changed.run_id);
      if (i >= 0) state.rows[i] = changed; else missing = true;
    }
    if (missing || state.sort) reload(); else repaint();
  });
  const timer = setInterval(paint, 10000);
  return () => { stop(); clearInterval(timer); };
}

function params_of(state) {
  return { q: state.q, status: state.status, worker: state.worker, group: state.group, sort: state.sort, filter: state.filter ? [state.filter] : [] };
}

export function debounce(fn, ms) { let t = null; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; }
export function throttle(fn, ms) {
  let last = 0, t = null;
  return (...a) => { const wait = last + ms - Date.now(); if (wait <= 0) { last = Date.now(); fn(...a); } else if (!t) t = setTimeout(() => { t = null; last = Date.now(); fn(...a); }, wait); };
}
