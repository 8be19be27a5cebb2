// Building the page from data without ever parsing data as HTML.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "style") el.style.cssText = value;
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

export function fmt(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return value.toLocaleString("en-US");
    const abs = Math.abs(value);
    return abs !== 0 && (abs < 1e-3 || abs >= 1e6) ? value.toExponential(3) : value.toPrecision(4).replace(/\.?0+$/, "");
  }
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function age(seconds) {
  if (!seconds) return "–";
  let s = Math.max(0, Math.floor(Date.now() / 1000 - seconds));
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) if (s >= size) return `${Math.floor(s / size)}${unit}`;
  return `${s}s`;
}

export function statusBadge(status) { return h("span", { class: `status ${status}` }, status); }

export function progress(step, total) {
  if (step === null || step === undefined) return "–";
  if (!total) return fmt(step);
  const pct = Math.min(100, (100 * step) / total);
  return h("span", {}, h("span", { class: "bar" }, h("span", { style: `width:${pct.toFixed(1)}%` })), `${fmt(step)} / ${fmt(total)}`);
}

export function kv(pairs) {
  const el = h("div", { class: "kv" });
  for (const [k, v] of pairs) if (v !== undefined && v !== null && v !== "") append(el, [h("div", {}, k), h("div", { class: "mono" }, v instanceof Node ? v : fmt(v))]);
  return el;
}
