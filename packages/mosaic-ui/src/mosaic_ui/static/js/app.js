// The page's router: #/runs, #/run/ID, #/compare?..., #/launch/WORKER, #/eval.
import { api, live } from "./api.js";
import { clear, h } from "./dom.js";
import * as runs from "./pages/runs.js";
import * as run from "./pages/run.js";
import * as compare from "./pages/compare.js";
import * as launch from "./pages/launch.js";
import * as evaluate from "./pages/eval.js";

const pages = { runs, run, compare, launch, eval: evaluate };
let cleanup = null;

function parse() {
  const [path, search] = (location.hash.replace(/^#\/?/, "") || "runs").split("?");
  const [name, ...rest] = path.split("/");
  return { name: pages[name] ? name : "runs", arg: rest.map(decodeURIComponent).join("/"), params: new URLSearchParams(search || "") };
}

async function route() {
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
  const view = clear(document.getElementById("view"));
  const { name, arg, params } = parse();
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === (name === "run" ? "runs" : name)));
  try {
    cleanup = (await pages[name].render(view, arg, params)) || null;
  } catch (error) {
    view.append(h("div", { class: "banner" }, error.message));
  }
}

async function start() {
  try {
    await api("/api/session");
  } catch (error) {
    const view = clear(document.getElementById("view"));
    view.append(h("h1", {}, "Not signed in"),
      h("p", {}, "Open the address that ", h("code", {}, "mosaic ui"), " printed (it carries the token), in this browser."),
      h("p", { class: "muted" }, error.message));
    document.getElementById("live").textContent = "no token";
    return;
  }
  live(() => {});
  window.addEventListener("hashchange", route);
  route();
}

start();
