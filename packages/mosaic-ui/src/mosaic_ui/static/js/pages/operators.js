// Operators: pick a task, seat an operator on each agent of each pane, then play them side by
// side on one seed. #/operators sets up; #/operators/SESSION shows a running session.
import { api, query } from "../api.js";
import { append, clear, fmt, h } from "../dom.js";

const FORMATS = ["image/png", "image/jpeg", "image/webp"];

export async function render(view, arg) {
  if (arg) return play(view, arg);
  return setup(view);
}

// -- setup -----------------------------------------------------------------------------

async function setup(view) {
  const data = await api("/api/families");
  const families = data.families.filter((f) => f.installed && f.tasks && f.tasks.length);
  const family = h("select", { id: "family" }, families.map((f) => h("option", { value: f.name }, `${f.display_name} (${f.tasks.length})`)));
  const task = h("select", { id: "task", style: "max-width:360px" });
  const seed = h("input", { type: "number", id: "seed", value: 0, style: "width:100px" });
  const about = h("div", { id: "task-about" });
  const panes = h("div", { id: "panes-setup", class: "grid" });
  const banner = h("div");
  const start = h("button", { class: "primary", id: "start-play", onclick: begin }, "Start");
  const gif = h("input", { type: "checkbox", id: "gif" });
  const addPane = h("button", { id: "add-pane", onclick: () => { lineups.push(defaults()); paintPanes(); } }, "Add pane");
  let described = null, candidates = [], lineups = [], chosen = {}, loads = 0;

  const missing = data.families.filter((f) => !f.installed);
  view.append(h("h1", {}, "Operators"),
    h("p", { class: "muted" }, "Seat an operator on every agent (random, a person, a trained run, an LLM endpoint or any operator spec); every pane plays the same task from the same seed."),
    banner,
    h("div", { class: "toolbar" }, h("label", {}, "family "), family, h("label", {}, "task "), task, h("label", {}, "seed "), seed),
    about, h("h2", {}, "Panes"), panes, h("p", {}, addPane, " ", h("label", {}, gif, " keep a GIF of each pane's first episode"), " ", start),
    missing.length ? h("p", { class: "muted" }, "Not installed: ", missing.map((f) => `${f.display_name} (${f.install})`).join("; ")) : null);

  family.addEventListener("change", fillTasks);
  task.addEventListener("change", () => { chosen = {}; load(); });
  fillTasks();

  function fillTasks() {
    const picked = families.find((f) => f.name === family.value);
    clear(task).append(...(picked ? picked.tasks : []).map((t) => h("option", { value: t.id }, t.id)));
    chosen = {};
    load();
  }

  async function load() {
    // Only the last task asked for is shown: an answer for one picked before it (a family's
    // first task, replaced at once) may come later, and is dropped.
    const mine = ++loads;
    clear(about).append(h("p", { class: "muted" }, "Loading…"));
    clear(banner);
    let answers;
    try {
      const given = Object.keys(chosen).length ? { settings: JSON.stringify(chosen) } : {};
      answers = await Promise.all([
        api(`/api/families/tasks/${encodeURIComponent(task.value)}${query(given)}`),
        api(`/api/families/tasks/${encodeURIComponent(task.value)}/candidates`)]);
    } catch (error) {
      if (mine !== loads) return;
      clear(about); banner.append(h("div", { class: "banner" }, error.message)); return;
    }
    if (mine !== loads) return;
    [described, { runs: candidates }] = answers;
    const preview = h("img", { id: "preview", alt: "preview", src: `/api/families/tasks/${encodeURIComponent(task.value)}/preview${query({ seed: seed.value, ...(Object.keys(chosen).length ? { settings: JSON.stringify(chosen) } : {}) })}`, style: "max-width:320px;max-height:260px;border:1px solid var(--line)" });
    const keys = described.key_map ? Object.entries(described.key_map.keys).map(([k, a]) => `${k}: ${described.key_map.labels[a] || a}`).join(" · ") : "none";
    clear(about).append(h("div", { class: "layout", style: "grid-template-columns: 340px 1fr" }, preview,
      h("div", { class: "kv" }, h("div", {}, "task"), h("div", { class: "mono" }, described.id),
        h("div", {}, "family"), h("div", {}, described.family_display_name),
        h("div", {}, "agents"), h("div", { id: "agents" }, agents().map((a) => a || "one agent").join(", ")),
        h("div", {}, "stepping"), h("div", { id: "stepping" }, described.stepping + (described.legal_actions ? " (legal moves)" : "")),
        h("div", {}, "keys"), h("div", { class: "mono" }, keys),
        h("div", {}, "settings"), h("div", { id: "settings" }, described.settings.length ? settingsForm() : "none"),
        h("div", {}, "description"), h("div", {}, described.description))));
    lineups = [defaults(), defaults()];
    paintPanes();
  }

  function settingsForm() {
    const inputs = described.settings.map((s) => {
      const input = s.choices ? h("select", { "data-setting": s.name }, s.choices.map((c) => h("option", { value: c }, String(c))))
        : h("input", { type: s.type === "integer" || s.type === "number" ? "number" : "text", "data-setting": s.name, style: "width:90px", title: s.description || "" });
      input.value = String(s.value);
      return h("label", { style: "margin-right:10px", title: s.description || "" }, `${s.name} `, input);
    });
    const apply = h("button", { id: "apply-settings", onclick: () => {
      chosen = {};
      for (const s of described.settings) {
        const raw = document.querySelector(`[data-setting='${s.name}']`).value;
        const value = s.type === "integer" ? parseInt(raw, 10) : s.type === "number" ? Number(raw) : s.type === "boolean" ? raw === "true" : raw;
        if (value !== s.default) chosen[s.name] = value;
      }
      load();
    } }, "Apply");
    return h("div", {}, inputs, apply);
  }

  function agents() { return described && described.agents.length ? described.agents : [null]; }
  function defaults() { return Object.fromEntries(agents().map((a) => [a || "agent", "random"])); }

  function paintPanes() {
    clear(panes);
    const fitting = candidates.filter((c) => c.fits === true), not = candidates.filter((c) => c.fits === false);
    const unknown = candidates.filter((c) => c.fits === null);
    lineups.forEach((lineup, i) => {
      const card = h("div", { class: "card", "data-pane-setup": i }, h("strong", {}, `Pane ${i + 1}`), " ",
        lineups.length > 1 ? h("button", { onclick: () => { lineups.splice(i, 1); paintPanes(); } }, "remove") : null);
      for (const agent of agents()) {
        const key = agent || "agent";
        const other = h("input", { type: "text", placeholder: "llm:MODEL@URL or any spec", style: "width:100%;display:none", "data-spec": key,
          oninput: (e) => { lineup[key] = e.target.value.trim(); } });
        const pick = h("select", { "data-seat": key, onchange: (e) => {
          other.style.display = e.target.value === "*" ? "" : "none";
          lineup[key] = e.target.value === "*" ? other.value.trim() : e.target.value;
        } }, h("option", { value: "random" }, "random"), h("option", { value: "human" }, "human (you)"),
          fitting.length ? h("optgroup", { label: "trained runs that fit" }, fitting.map((c) => h("option", { value: c.spec, title: c.python ? `runs in ${c.python}` : "" }, `${c.spec} (${c.algorithm || "?"} on ${c.env_id || "?"})${c.python ? " · own env" : ""}`))) : null,
          unknown.length ? h("optgroup", { label: "runs that recorded no spaces (not checked)" }, unknown.map((c) => h("option", { value: c.spec, title: c.reason }, `${c.spec} (${c.algorithm || "?"} on ${c.env_id || "?"})`))) : null,
          not.length ? h("optgroup", { label: "trained runs that do not fit" }, not.map((c) => h("option", { value: c.spec, disabled: true, title: c.reason }, `${c.spec}: ${c.reason}`))) : null,
          h("option", { value: "*" }, "another spec (llm:MODEL@URL, WORKER:RUN_ID…)"));
        pick.value = lineup[key];
        card.append(h("div", { style: "margin-top:6px" }, h("div", { class: "muted" }, agent || "agent"), pick, other));
      }
      if (not.length && i === 0) card.append(h("details", { class: "muted", style: "margin-top:6px" }, h("summary", {}, `${not.length} run(s) do not fit`),
        h("ul", { id: "not-fitting" }, not.map((c) => h("li", {}, h("span", { class: "mono" }, c.spec), ": ", c.reason)))));
      panes.append(card);
    });
  }

  async function begin() {
    clear(banner);
    start.disabled = true;
    try {
      const session = await api("/api/play", { method: "POST", body: { task: task.value, settings: chosen, seed: Number(seed.value), gif: gif.checked, panes: lineups.map((seats) => ({ seats })) } });
      location.hash = `#/operators/${session.id}`;
    } catch (error) { banner.append(h("div", { class: "banner", id: "play-error" }, error.message)); }
    finally { start.disabled = false; }
  }
}

// -- a running session -----------------------------------------------------------------

async function play(view, sid) {
  let state = await api(`/api/play/${encodeURIComponent(sid)}`);
  const task = state.task;
  const keyMap = task.key_map ? task.key_map.keys : {};
  const stats = window.__mosaicPlay = { frames: state.panes.map(() => 0), latency: [], formats: [], bytes: 0, started: performance.now(), state };
  const seed = h("input", { type: "number", id: "play-seed", value: state.seed ?? 0, style: "width:90px" });
  const pace = h("input", { type: "number", id: "pace", value: state.pace, min: 0, max: 1000, style: "width:80px", title: "steps per second (0: as fast as they go)" });
  const banner = h("div", { id: "play-banner" });
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/play/${encodeURIComponent(sid)}/ws`);
  socket.binaryType = "arraybuffer";
  const waiting = [];  // what was sent before the socket opened goes out when it does
  const send = (message) => { if (socket.readyState === 1) socket.send(JSON.stringify(message)); else if (socket.readyState === 0) waiting.push(message); };
  socket.onopen = () => { for (const message of waiting.splice(0)) socket.send(JSON.stringify(message)); };
  const control = (cmd, extra = {}) => send({ cmd, ...extra });
  const panes = state.panes.map((p) => paneView(p));

  view.append(h("h1", {}, task.replay ? "Replay · " : "Operators · ", h("span", { class: "mono" }, task.id)),
    task.replay ? h("p", { class: "muted", id: "replay-of" }, `Episode ${task.replay.episode + 1} of pane ${task.replay.pane + 1} (${task.replay.operators}) of eval run ${task.replay.run_id}, seed ${state.seed}: Step or Run plays its recorded actions.`) : "",
    h("div", { class: "toolbar" },
      h("button", { id: "reset", onclick: () => control("reset", { seed: Number(seed.value) }) }, "Reset"), seed,
      h("button", { id: "step", onclick: () => control("step") }, "Step"),
      h("button", { id: "run", class: "primary", onclick: () => control("run", { pace: Number(pace.value) }) }, "Run"), pace, h("span", { class: "muted" }, "steps/s"),
      h("button", { id: "pause", onclick: () => control("pause") }, "Pause"),
      h("button", { id: "stop", class: "danger", onclick: stop }, "Stop"),
      h("span", { id: "clock", class: "muted" })),
    banner, h("div", { class: "panes", id: "panes" }, panes.map((p) => p.el)),
    h("p", { class: "muted" }, Object.keys(keyMap).length ? `Keys (to the first pane with a person's seat): ${Object.entries(keyMap).map(([k, a]) => `${k} ${(task.key_map.labels || [])[a] || a}`).join(" · ")}` : ""));

  socket.onmessage = async (event) => {
    if (typeof event.data === "string") {
      const message = JSON.parse(event.data);
      if (message.type === "state") { state = stats.state = message; stats.formats = message.formats; paint(); }
      else if (message.type === "refused") { clear(banner).append(h("div", { class: "banner", id: "refused" }, message.error)); }
      return;
    }
    const head = new DataView(event.data, 0, 24);
    const index = head.getUint8(0), format = head.getUint8(1), stepped = head.getFloat64(8, true);
    const bitmap = await createImageBitmap(new Blob([new Uint8Array(event.data, 24)], { type: FORMATS[format] }));
    const canvas = panes[index].canvas;
    if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) { canvas.width = bitmap.width; canvas.height = bitmap.height; }
    canvas.getContext("2d").drawImage(bitmap, 0, 0);
    bitmap.close();
    requestAnimationFrame(() => {
      stats.latency.push(Date.now() - stepped);
      if (stats.latency.length > 2000) stats.latency.splice(0, 1000);
    });
    stats.frames[index] += 1;
    stats.bytes += event.data.byteLength;
    send({ type: "painted", pane: index });
  };
  socket.onclose = () => { document.getElementById("clock") && (document.getElementById("clock").textContent = "disconnected"); };

  function onKey(event) {
    const key = event.key === " " ? "Space" : event.key;
    const found = key in keyMap ? key : key.length === 1 && key.toLowerCase() in keyMap ? key.toLowerCase() : null;
    if (found === null || event.target.tagName === "INPUT") return;
    const pane = state.panes.find((p) => p.seats.some((s) => s.human) && p.status !== "failed");
    if (!pane) return;
    event.preventDefault();
    send({ pane: pane.index, key: found });
  }
  document.addEventListener("keydown", onKey);

  async function stop() {
    const done = await api(`/api/play/${encodeURIComponent(sid)}`, { method: "DELETE" });
    const replays = done.run_id ? done.panes.flatMap((p) => p.results.slice(0, 5).map((r, k) =>
      h("button", { "data-replay": `${p.index}-${k}`, onclick: () => replay(done.run_id, p.index, k) }, `replay pane ${p.index + 1}, episode ${k + 1}`))) : [];
    clear(banner).append(h("div", { class: "banner info", id: "recorded" }, "Stopped. ",
      done.run_id ? h("span", {}, "Recorded as ", h("a", { href: `#/run/${done.run_id}` }, `eval run ${done.run_id}`), ". ") : (task.replay ? "" : "Nothing was played, so nothing was recorded. "),
      replays.length ? h("div", { class: "moves" }, replays) : null));
    state = done;
    paint();
  }

  async function replay(runId, pane, episode) {
    try {
      const session = await api("/api/play", { method: "POST", body: { replay: { run_id: runId, pane, episode } } });
      location.hash = `#/operators/${session.id}`;
    } catch (error) { clear(banner).append(h("div", { class: "banner", id: "play-error" }, error.message)); }
  }

  function promptText(prompt) {
    if (Array.isArray(prompt)) return prompt.map((m) => `${m.role || ""}: ${m.content || ""}`).join("\n\n");
    return typeof prompt === "string" ? prompt : JSON.stringify(prompt);
  }

  function paneView(p) {
    const canvas = h("canvas", { width: 256, height: 256, "data-canvas": p.index });
    const el = h("div", { class: "card pane", "data-pane": p.index });
    const info = h("div", { class: "pane-info" });
    const own = h("input", { type: "number", value: p.seed ?? 0, style: "width:80px", "data-pane-seed": p.index, title: "this pane's own seed" });
    el.append(h("div", {}, h("strong", {}, `Pane ${p.index + 1}`), " ", h("span", { class: "mono" }, task.replay ? `replaying ${task.replay.operators}` : p.seats.map((s) => (s.agent ? `${s.agent}=` : "") + s.spec).join(", "))), canvas,
      h("div", { class: "toolbar", style: "margin:0 0 4px" }, h("button", { "data-pane-reset": p.index, onclick: () => control("reset", { pane: p.index, seed: Number(own.value) }) }, "Reset this pane"), own), info);
    return { el, canvas, info };
  }

  function paint() {
    document.getElementById("clock").textContent = state.running ? `running at ${state.pace || "max"} steps/s` : "paused";
    for (const p of state.panes) {
      const v = panes[p.index];
      const turn = p.waiting_for !== null && p.waiting_for !== undefined ? h("div", { class: "turn", "data-waiting": p.waiting_for }, `Your move${p.waiting_for ? ` (${p.waiting_for})` : ""}`)
        : p.to_act && p.to_act.length && task.stepping === "aec" ? h("div", { class: "muted" }, `turn: ${p.to_act.join(", ")}`) : null;
      const legal = p.waiting_for !== null && p.waiting_for !== undefined ? (p.legal[p.waiting_for || "None"] || null) : null;
      const labels = task.key_map ? task.key_map.labels : [];
      const moves = legal ? h("div", { class: "moves" }, legal.map((a) => h("button", { "data-move": a, onclick: () => send({ pane: p.index, agent: p.waiting_for || null, action: a }) }, labels[a] || String(a)))) : null;
      const ret = typeof p.return === "object" && p.return !== null ? Object.entries(p.return).map(([a, r]) => `${a} ${fmt(r)}`).join(", ") : fmt(p.return);
      const last = p.results.length ? p.results[p.results.length - 1] : null;
      append(clear(v.info), [
        h("div", {}, h("span", { class: `status ${p.status}`, "data-status": p.status }, p.status), p.pid ? h("span", { class: "muted" }, ` pid ${p.pid}`) : null),
        p.error ? h("div", { class: "error pane-error" }, p.error) : null,
        p.notice ? h("div", { class: "muted" }, p.notice) : null,
        p.replayed ? h("div", { class: "turn", id: `replayed-${p.index}` }, "The recorded episode has been replayed.") : null,
        turn, moves,
        p.text ? h("pre", { class: "log" }, p.text) : null,
        Object.entries(p.exchanges || {}).map(([agent, e]) => h("details", { class: "exchange", "data-exchange": agent, open: true },
          h("summary", {}, `${agent || "agent"}: last exchange` + (e.invalid_replies !== undefined ? ` · invalid replies ${e.invalid_replies}` : "")),
          h("div", { class: "muted" }, "prompt"), h("pre", { class: "log", "data-prompt": agent }, promptText(e.prompt)),
          h("div", { class: "muted" }, "reply"), h("pre", { class: "log", "data-reply": agent }, typeof e.reply === "string" ? e.reply : JSON.stringify(e.reply)))),
        h("div", { class: "kv" }, h("div", {}, "seed"), h("div", { "data-stat": "seed" }, fmt(p.seed)), h("div", {}, "return"), h("div", { "data-stat": "return" }, ret),
          h("div", {}, "steps"), h("div", { "data-stat": "steps" }, fmt(p.steps)),
          h("div", {}, "episodes"), h("div", { "data-stat": "episodes" }, fmt(p.episodes)),
          h("div", {}, "last episode"), h("div", {}, last ? (typeof last.return === "object" ? JSON.stringify(last.return) : fmt(last.return)) : "–"),
          h("div", {}, "invalid actions"), h("div", {}, fmt(p.invalid)),
          h("div", {}, "fps"), h("div", { "data-stat": "fps" }, fmt(p.fps)))]);
    }
  }
  paint();
  return () => { document.removeEventListener("keydown", onKey); socket.close(); };
}
