// Launch: pick a worker, fill the form its config schema describes, start runs.
import { api, query } from "../api.js";
import { clear, h } from "../dom.js";

const HIDDEN = new Set(["run_id", "seed"]);

export async function render(view, workerName, params) {
  const found = await api("/api/workers");
  const list = h("div");
  const panel = h("div");
  view.append(h("h1", {}, "Launch"), h("div", { class: "layout" }, list, panel));
  for (const w of found.workers) {
    list.append(h("a", { class: `worker ${w.worker_type === workerName ? "chosen" : ""}`, href: `#/launch/${encodeURIComponent(w.worker_type)}`, "data-worker": w.worker_type },
      h("strong", {}, w.worker_type), " ", h("span", { class: "muted" }, w.version), h("br"),
      h("span", { class: "muted" }, w.metadata.description || ""), w.runnable ? null : h("div", { class: "error" }, "legacy plugin: cannot be run")));
  }
  for (const b of found.broken) {
    list.append(h("div", { class: "worker broken", "data-worker": b.worker_type }, h("strong", {}, b.worker_type), " ", h("span", { class: "muted" }, "broken"),
      h("div", { class: "error" }, `${b.error_type}: ${b.error}`), h("div", { class: "muted" }, b.hint)));
  }
  if (!found.workers.length && !found.broken.length) list.append(h("p", { class: "muted" }, "No workers installed: pip install mosaic-cleanrl-worker, for one."));
  if (!workerName) { panel.append(h("p", { class: "muted" }, "Pick a worker.")); return; }
  const info = await api(`/api/workers/${encodeURIComponent(workerName)}/schema`);
  let from = {};
  if (params.get("from")) from = (await api(`/api/runs/${encodeURIComponent(params.get("from"))}`)).config;
  const envs = found.envs.filter((e) => e.workers.includes(workerName));
  form(panel, workerName, info.schema || { properties: {} }, from, envs);
}

function variants(schema) {
  if (!schema.oneOf) return null;
  return Object.fromEntries(schema.oneOf.map((v) => [v.properties.algorithm.const, v]));
}

function defaultVariant(schema) {
  return schema.oneOf.find((v) => !(v.required || []).includes("algorithm")).properties.algorithm.const;
}

function describe(prop) {
  const bits = [];
  for (const [key, sign] of [["minimum", "≥"], ["exclusiveMinimum", ">"], ["maximum", "≤"], ["exclusiveMaximum", "<"]]) if (key in prop) bits.push(`${sign} ${prop[key]}`);
  if (prop.minItems) bits.push(`at least ${prop.minItems} items`);
  const type = Array.isArray(prop.type) ? prop.type.join(" | ") : prop.type || (prop.enum ? "choice" : "any");
  return `${type}${bits.length ? ` (${bits.join(", ")})` : ""}`;
}

function input(name, prop, value) {
  const shown = value === undefined ? prop.default : value;
  if (prop.writeOnly) return h("input", { type: "password", name, autocomplete: "new-password", placeholder: "secret: sent to the worker, never shown again" });
  if (prop.enum || prop.const !== undefined) {
    const options = prop.enum || [prop.const];
    return h("select", { name }, options.map((o) => h("option", { value: JSON.stringify(o), selected: JSON.stringify(o) === JSON.stringify(shown) }, String(o))));
  }
  if (prop.type === "boolean") return h("input", { type: "checkbox", name, checked: !!shown });
  const text = shown === undefined || shown === null ? "" : typeof shown === "string" ? shown : JSON.stringify(shown);
  return h("input", { type: "text", name, value: text, inputmode: ["integer", "number"].includes(prop.type) ? "decimal" : undefined, "data-kind": JSON.stringify(prop.type || "") });
}

function read(el, prop) {
  if (el.type === "checkbox") return el.checked;
  if (el.tagName === "SELECT") return JSON.parse(el.value);
  const text = el.value;
  const kinds = [].concat(JSON.parse(el.dataset.kind || '""'));
  if (el.type === "password") return text;
  if (text === "" && kinds.includes("null")) return null;
  if (kinds.includes("string") && !kinds.some((k) => ["integer", "number", "array", "object"].includes(k))) return text;
  try { return JSON.parse(text); } catch (e) { return text; }
}

function form(panel, worker, schema, from, envs) {
  const byAlgorithm = variants(schema);
  let algorithm = byAlgorithm ? (from.algorithm && byAlgorithm[from.algorithm] ? from.algorithm : defaultVariant(schema)) : null;
  const banner = h("div");
  const fields = h("div", { class: "form", id: "fields" });
  const seeds = h("input", { type: "text", name: "--seeds", placeholder: "e.g. 1,2,3 (empty: the config's seed)" });
  const sweep = h("textarea", { name: "--sweep", placeholder: "one per line: KEY=V1,V2 (a grid, crossed with the seeds)" });
  const group = h("input", { type: "text", name: "--group", placeholder: "default for several runs: WORKER-DATE-TIME" });
  const env = h("select", { name: "--env" }, h("option", { value: "" }, "this environment"), envs.map((e) => h("option", { value: e.name }, `${e.name} (Python ${e.python_version})`)));
  const start = h("button", { class: "primary", id: "start", onclick: submit }, "Start");

  function props() { return byAlgorithm ? byAlgorithm[algorithm].properties : schema.properties || {}; }

  function paint() {
    clear(fields);
    for (const [name, prop] of Object.entries(props())) {
      if (HIDDEN.has(name)) continue;
      let el;
      if (name === "algorithm" && byAlgorithm) {
        el = h("select", { name, onchange: (e) => { algorithm = e.target.value; paint(); } },
          Object.keys(byAlgorithm).map((a) => h("option", { value: a, selected: a === algorithm }, a)));
      } else {
        el = input(name, prop, from[name] === "***" ? undefined : from[name]);
      }
      el.dataset.field = name;
      fields.append(h("label", { for: `f-${name}` }, name),
        h("div", { "data-for": name }, Object.assign(el, { id: `f-${name}` }), h("div", { class: "help" }, prop.description || "", " · ", describe(prop))));
    }
  }

  async function submit() {
    clear(banner);
    panel.querySelectorAll(".field-error").forEach((e) => e.remove());
    const config = {};
    for (const [name, prop] of Object.entries(props())) {
      if (HIDDEN.has(name)) continue;
      const el = fields.querySelector(`[data-field="${CSS.escape(name)}"]`);
      if (!el) continue;
      const value = name === "algorithm" && byAlgorithm ? algorithm : read(el, prop);
      if (prop.writeOnly && value === "") continue;
      const base = from[name] !== undefined ? from[name] : prop.default;
      if (JSON.stringify(value) !== JSON.stringify(base) || name === "algorithm" || from[name] !== undefined) config[name] = value;
    }
    if (from.seed !== undefined && from.seed !== null && !seeds.value.trim()) config.seed = from.seed;
    const body = { worker, config, seeds: seeds.value.trim(), sweep: sweep.value.split("\n").map((s) => s.trim()).filter(Boolean),
      group: group.value.trim() || null, env: env.value || null };
    start.disabled = true;
    try {
      const result = await api("/api/launch", { method: "POST", body });
      banner.append(h("div", { class: "banner info" }, `started ${result.runs.length} run${result.runs.length === 1 ? "" : "s"}`));
      location.hash = result.runs.length === 1 ? `#/run/${result.runs[0].run_id}` : `#/runs${query({ group: result.group })}`;
    } catch (error) {
      banner.append(h("div", { class: "banner", id: "launch-error" }, error.message));
      const target = error.field && (panel.querySelector(`[data-for="${CSS.escape(error.field.split(".")[0])}"]`) || panel.querySelector(`[data-for="${CSS.escape(error.field)}"]`));
      if (target) target.append(h("div", { class: "field-error" }, error.message));
    } finally { start.disabled = false; }
  }

  paint();
  panel.append(h("h2", {}, `New ${worker} run`), banner, fields,
    h("h2", {}, "Seeds, sweep and where"),
    h("div", { class: "form" },
      h("label", {}, "seeds"), h("div", { "data-for": "--seeds" }, seeds),
      h("label", {}, "sweep"), h("div", { "data-for": "--sweep" }, sweep),
      h("label", {}, "group"), h("div", { "data-for": "--group" }, group),
      h("label", {}, "environment"), h("div", { "data-for": "--env" }, env, h("div", { class: "help" }, "a `mosaic env` holding this worker, or this one"))),
    h("p", {}, start));
}
