// Runs or a group side by side: curves as a mean with a 95% band over seeds, IQM and CIs,
// final metrics, config diff.
import { api, query } from "../api.js";
import { chart, colour } from "../chart.js";
import { append, clear, fmt, h, statusBadge } from "../dom.js";

export async function render(view, _arg, params) {
  const state = { runs: params.getAll("run"), group: params.get("group") || "", keys: params.getAll("key"),
    groupBy: params.get("group_by") || "seed", smooth: params.get("smooth") || "" };
  const groups = (await api("/api/groups")).groups;
  const runsInput = h("input", { type: "text", name: "runs", value: state.runs.join(","), placeholder: "run ids, comma-separated", style: "width:320px" });
  const groupSelect = h("select", { name: "group" }, h("option", { value: "" }, "no group"),
    groups.map((g) => h("option", { value: g.name, selected: g.name === state.group }, `${g.name} (${g.runs})`)));
  const groupBy = h("select", { name: "group_by" }, ["seed", "none", "algorithm", "env_id"].map((v) =>
    h("option", { value: v, selected: v === state.groupBy }, v === "seed" ? "mean over seeds" : v === "none" ? "each run" : `by ${v}`)));
  const smoothInput = h("input", { type: "number", name: "smooth", min: 1, placeholder: "smooth", value: state.smooth, style: "width:90px" });
  const out = h("div");
  view.append(h("h1", {}, "Compare"),
    h("div", { class: "toolbar" }, runsInput, groupSelect, groupBy, smoothInput,
      h("button", { class: "primary", onclick: () => go() }, "Compare")), out);

  function go(keys) {
    state.runs = runsInput.value.split(",").map((s) => s.trim()).filter(Boolean);
    location.hash = `#/compare${query({ run: state.runs, group: groupSelect.value, key: keys || state.keys, group_by: groupBy.value, smooth: smoothInput.value })}`;
  }

  if (!state.runs.length && !state.group) {
    out.append(h("p", { class: "muted" }, "Pick runs (select them in the run table, or give their ids) or a group."));
    return;
  }
  let data;
  try {
    data = await api(`/api/compare${query({ run: state.runs, group: state.group, key: state.keys, group_by: state.groupBy, smooth: state.smooth, points: 300 })}`);
  } catch (error) {
    out.append(h("div", { class: "banner" }, error.message));
    return;
  }
  const allKeys = Object.keys(data.compare.metrics);
  out.append(h("div", { class: "toolbar" }, h("span", { class: "muted" }, "metrics: "),
    allKeys.map((k) => h("span", { class: `pill ${data.keys.includes(k) ? "on" : ""}`, "data-key": k,
      onclick: () => go(data.keys.includes(k) ? data.keys.filter((x) => x !== k) : [...data.keys, k]) }, k))));

  const charts = h("div", { id: "charts" });
  out.append(charts);
  for (const key of data.keys) {
    const lines = data.curves.filter((c) => c.key === key && c.steps.length).map((c) => ({
      label: `${c.label}${c.n > 1 ? ` (n=${c.n})` : ""}`, xs: c.steps, ys: c.mean, low: c.low, high: c.high }));
    const notes = data.curves.filter((c) => c.key === key && c.note).map((c) => `${c.label}: ${c.note}`);
    if (lines.length) chart(charts, `${key} — mean${lines.some((l) => l.low) ? " with 95% bootstrap band" : ""}`, lines, { height: 300 });
    if (notes.length) charts.append(h("p", { class: "muted" }, notes.join("; ")));
  }

  const stats = data.statistics;
  out.append(h("h2", {}, `Final ${stats.configurations[0] && stats.configurations[0].metric_keys[0] || "metric"} per configuration (${stats.stat || ""}, ${Math.round(stats.bootstrap.confidence * 100)}% CI)`),
    h("table", { id: "statistics" }, h("thead", {}, h("tr", {}, ["configuration", "runs", "n", "mean", "mean CI", "IQM", "IQM CI"].map((c) => h("th", { class: c === "configuration" ? "" : "num" }, c)))),
      h("tbody", {}, stats.configurations.map((c, i) => h("tr", {},
        h("td", {}, h("span", { style: `color:${colour(i)}` }, "■ "), c.label), h("td", { class: "num" }, c.runs), h("td", { class: "num" }, c.n),
        h("td", { class: "num" }, fmt(c.mean)), h("td", { class: "num" }, c.mean_ci ? `[${fmt(c.mean_ci[0])}, ${fmt(c.mean_ci[1])}]` : "–"),
        h("td", { class: "num" }, fmt(c.iqm)), h("td", { class: "num" }, c.iqm_ci ? `[${fmt(c.iqm_ci[0])}, ${fmt(c.iqm_ci[1])}]` : "–"))))));

  const runs = data.compare.runs;
  const shownKeys = allKeys.slice(0, 6);
  out.append(h("h2", {}, "Runs"), h("div", { style: "overflow-x:auto" }, h("table", { id: "final" },
    h("thead", {}, h("tr", {}, h("th", {}, "run"), h("th", {}, "label"), h("th", {}, "status"), shownKeys.map((k) => h("th", { class: "num", title: "final (best)" }, k)))),
    h("tbody", {}, runs.map((r, i) => h("tr", {},
      h("td", { class: "mono" }, h("a", { href: `#/run/${r.run_id}` }, r.run_id.slice(-10))), h("td", {}, r.label), h("td", {}, statusBadge(r.status)),
      shownKeys.map((k) => { const m = data.compare.metrics[k][i]; return h("td", { class: "num" }, m ? `${fmt(m.final)} (${fmt(m.best)})` : "–"); })))))));

  const differ = Object.entries(data.compare.config.differ);
  append(out, [h("h2", {}, "Config differences"), differ.length ? h("div", { style: "overflow-x:auto" }, h("table", { id: "config-diff" },
    h("thead", {}, h("tr", {}, h("th", {}, "field"), runs.map((r) => h("th", { class: "mono" }, r.run_id.slice(-10))))),
    h("tbody", {}, differ.map(([field, values]) => h("tr", {}, h("td", { class: "mono" }, field), values.map((v) => h("td", { class: "mono" }, fmt(v)))))))) :
    h("p", { class: "muted" }, "The configs are the same (apart from run ids).")]);
}
