// Evaluate: operators side by side on the same seeded episodes (`mosaic eval`), and its table.
import { api, query } from "../api.js";
import { clear, fmt, h } from "../dom.js";

export async function render(view) {
  const trained = (await api(`/api/runs${query({ status: "completed", limit: 200 })}`)).runs.filter((r) => r.worker_type !== "eval");
  const env = h("input", { type: "text", name: "env", placeholder: "e.g. CartPole-v1", style: "width:240px" });
  const operators = h("textarea", { name: "operators", placeholder: "one per line: random, WORKER:RUN_ID, llm:MODEL@URL" });
  operators.value = "random";
  const episodes = h("input", { type: "number", name: "episodes", value: 5, min: 1, style: "width:90px" });
  const seed = h("input", { type: "number", name: "seed", value: 0, style: "width:90px" });
  const pick = h("select", { name: "trained", onchange: (e) => {
    if (!e.target.value) return;
    const r = trained.find((t) => t.run_id === e.target.value);
    operators.value = `${operators.value.trim()}\n${r.worker_type}:${r.run_id}`.trim();
    if (!env.value && r.env_id) env.value = r.env_id;
    e.target.value = "";
  } }, h("option", { value: "" }, "add a trained run…"), trained.map((r) => h("option", { value: r.run_id }, `${r.worker_type}:${r.run_id} (${r.algorithm || "?"} on ${r.env_id || "?"})`)));
  const banner = h("div");
  const jobs = h("div", { id: "evals" });
  const start = h("button", { class: "primary", id: "start-eval", onclick: submit }, "Evaluate");
  view.append(h("h1", {}, "Evaluate"),
    h("p", { class: "muted" }, "Every operator plays the same seeded episodes (episode k uses seed + k); the evaluation is recorded as a run."),
    banner,
    h("div", { class: "form" }, h("label", {}, "environment"), env, h("label", {}, "operators"), h("div", {}, operators, pick),
      h("label", {}, "episodes"), episodes, h("label", {}, "seed"), seed),
    h("p", {}, start), h("h2", {}, "Evaluations"), jobs);

  async function submit() {
    clear(banner);
    start.disabled = true;
    try {
      await api("/api/evals", { method: "POST", body: { env: env.value.trim(), operators: operators.value.split("\n").map((s) => s.trim()).filter(Boolean),
        episodes: Number(episodes.value), seed: Number(seed.value) } });
      await paintJobs();
    } catch (error) { banner.append(h("div", { class: "banner", id: "eval-error" }, error.message)); }
    finally { start.disabled = false; }
  }

  async function paintJobs() {
    const data = await api("/api/evals");
    clear(jobs);
    if (!data.evals.length) jobs.append(h("p", { class: "muted" }, "None yet."));
    for (const job of data.evals) {
      const card = h("div", { class: "card", "data-job": job.job, style: "margin-bottom:10px" },
        h("div", {}, h("strong", {}, job.env), ` · ${job.episodes} episodes from seed ${job.seed} · `, h("span", { class: `status ${job.status}` }, job.status),
          job.report ? h("span", {}, " · ", h("a", { href: `#/run/${job.report.run_id}` }, "its run")) : null));
      if (job.error) card.append(h("div", { class: "error" }, job.error));
      if (job.report) {
        card.append(h("table", {}, h("thead", {}, h("tr", {}, ["operator", "episodes", "return (mean ± std)", "length", "steps/s"].map((c) => h("th", {}, c)))),
          h("tbody", {}, job.report.operators.map((o) => h("tr", {}, h("td", { class: "mono" }, o.operator), h("td", {}, o.episodes),
            h("td", {}, o.error ? h("span", { class: "error" }, `failed: ${o.error}`) : `${fmt(o.mean_return)} ± ${fmt(o.std_return)}`),
            h("td", {}, fmt(o.mean_length)), h("td", {}, fmt(o.steps_per_second && Math.round(o.steps_per_second))))))));
      }
      jobs.append(card);
    }
    return data.evals.some((j) => j.status === "running");
  }

  await paintJobs();
  const timer = setInterval(paintJobs, 1500);
  return () => clearInterval(timer);
}
