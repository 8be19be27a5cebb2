// The page's router: #/runs, #/run/ID, #/compare?..., #/launch/WORKER, #/eval, #/operators/SESSION.
import { api, live } from "./api.js";
import { clear, h } from "./dom.js";
import * as runs from "./pages/runs.js";
import * as run from "./pages/run.js";
import * as compare from "./pages/compare.js";
import * as launch from "./pages/launch.js";
import * as evaluate from "./pages/eval.js";
import * as operators from "./pages/operators.js";

const pages = { runs, run, compare, launch, eval: evaluate, operators };
let cleanup = null;
let current = 0;  // which route is on screen: a page that finishes loading late is dropped

function parse() {
  const [path, search] = (location.hash.replace(/^#\/?/, "") || "runs").split("?");
  const [name, ...rest] = path.split("/");
  return { name: pages[name] ? name : "runs", arg: rest.map(decodeURIComponent).join("/"), params: new URLSearchParams(search || "") };
}

async function route() {
  if (signedOut) return;
  if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
  const view = h("div");  // each route draws into its own element: a late page draws nowhere
  clear(document.getElementById("view")).append(view);
  const { name, arg, params } = parse();
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === (name === "run" ? "runs" : name)));
  const mine = ++current;
  try {
    const done = (await pages[name].render(view, arg, params, () => mine === current)) || null;
    if (mine === current) cleanup = done; else if (done) done();
  } catch (error) {
    if (mine === current && !signedOut && error.status !== 401) view.append(h("div", { class: "banner" }, error.message));
  }
  if (signedOut && cleanup) { cleanup(); cleanup = null; }
}

function start() {
  // The first page and the session check go out together; without a token the page
  // says how to get one instead of what it was drawing.
  window.addEventListener("hashchange", route);
  api("/api/session").then(() => live(() => {}), (error) => {
    if (cleanup) { try { cleanup(); } catch (e) { console.error(e); } cleanup = null; }
    const view = clear(document.getElementById("view"));
    view.append(h("h1", {}, "Not signed in"),
      h("p", {}, "Open the address that ", h("code", {}, "mosaic ui"), " printed (it carries the token), in this browser."),
      h("p", { class: "muted" }, error.message));
    document.getElementById("live").textContent = "no token";
    signedOut = true;
  });
  route();
}

let signedOut = false;
start();
