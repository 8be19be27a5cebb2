// Learning curves with uPlot (vendored): lines, bands, log axis, smoothing.
import { h } from "./dom.js";

const COLOURS = ["#2f6fdf", "#d9534f", "#1f8a4c", "#b7791f", "#7b4fd6", "#128a91", "#c2477f", "#5f6b7a"];
export const colour = (i) => COLOURS[i % COLOURS.length];

// TensorBoard's smoothing: an exponential moving average, debiased at the start.
export function smooth(values, weight) {
  if (!weight) return values;
  const out = new Array(values.length);
  let last = 0, debias = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || !Number.isFinite(v)) { out[i] = v; continue; }
    last = last * weight + (1 - weight) * v; debias = debias * weight + (1 - weight);
    out[i] = last / debias;
  }
  return out;
}

function width(el) { return Math.max(320, (el.clientWidth || 640) - 14); }

// lines: [{label, xs, ys, low?, high?}] -> one chart. Returns {plot, update(lines)}.
export function chart(container, title, lines, opts = {}) {
  const box = h("div", { class: "chart", "data-key": title }, h("h3", {}, title));
  container.append(box);
  let plot = null;
  const build = (lines) => {
    const tables = []; const series = [{ label: opts.xLabel || "step" }]; const bands = []; const hidden = [];
    lines.forEach((line, i) => {
      const c = colour(i);
      if (line.low && line.high) {
        tables.push([line.xs, line.ys, line.high, line.low]);
        const base = series.length;
        series.push({ label: line.label, stroke: c, width: 2 },
          { label: `${line.label} high`, stroke: c + "33", width: 1 }, { label: `${line.label} low`, stroke: c + "33", width: 1 });
        bands.push({ series: [base + 1, base + 2], fill: c + "22" });
        hidden.push(base + 1, base + 2);
      } else {
        tables.push([line.xs, line.ys]);
        series.push({ label: line.label, stroke: c, width: 2, points: { show: line.xs.length < 60 } });
      }
    });
    const data = tables.length ? (tables.length === 1 ? tables[0] : uPlot.join(tables)) : [[]];
    return { data, series, bands, hidden };
  };
  const make = (lines) => {
    const { data, series, bands, hidden } = build(lines);
    if (plot) plot.destroy();
    plot = new uPlot({
      width: width(box), height: opts.height || 260, series, bands,
      scales: { x: { time: false }, y: opts.log ? { distr: 3 } : {} },
      axes: [{ label: opts.xLabel || "step" }, { size: 60 }],
      legend: { live: true }, cursor: { drag: { x: true, y: false } },
    }, data, box);
    const rows = plot.root.querySelectorAll(".u-legend .u-series");
    for (const i of hidden) if (rows[i]) rows[i].style.display = "none";  // a band's edges
  };
  make(lines);
  return {
    element: box,
    update(lines) {
      const { data, series } = build(lines);
      if (plot && plot.series.length === series.length) plot.setData(data); else make(lines);
    },
    points() { return plot ? plot.data[0].length : 0; },
    destroy() { if (plot) plot.destroy(); box.remove(); },
  };
}
