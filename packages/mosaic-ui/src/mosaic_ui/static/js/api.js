// The JSON API and the live event stream.
export class ApiError extends Error {
  constructor(status, body) { super(body && body.error ? body.error : `HTTP ${status}`); this.status = status; this.field = body ? body.field : null; }
}

export async function api(path, options = {}) {
  const init = { method: options.method || "GET", headers: { accept: "application/json" }, credentials: "same-origin" };
  if (options.body !== undefined) { init.body = JSON.stringify(options.body); init.headers["content-type"] = "application/json"; }
  const response = await fetch(path, init);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (Array.isArray(value)) value.forEach((v) => q.append(key, v));
    else if (value !== undefined && value !== null && value !== "") q.set(key, value);
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

// One EventSource for the page; views subscribe to what it says.
const listeners = new Set();
let source = null;
export function live(listener) {
  listeners.add(listener);
  if (!source) connect();
  return () => listeners.delete(listener);
}

function connect() {
  const badge = document.getElementById("live");
  source = new EventSource("/api/stream");
  source.addEventListener("hello", () => { badge.textContent = "live"; badge.className = "live on"; });
  source.addEventListener("runs", (event) => {
    const message = JSON.parse(event.data);
    message.receivedAt = performance.now();
    for (const listener of listeners) { try { listener(message); } catch (e) { console.error(e); } }
  });
  source.onerror = () => { badge.textContent = "reconnecting…"; badge.className = "live off"; };
}
