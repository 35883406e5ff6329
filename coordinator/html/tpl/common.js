/* report.html, shared part: data blob, DOM helpers, charts, the self-check. */
'use strict';
const BT = JSON.parse(document.getElementById('bt-data').textContent);
const btErrors = [];
window.addEventListener('error', (e) => btErrors.push(String(e.message)));
const btConsoleError = console.error;
console.error = (...a) => { btErrors.push(a.map(String).join(' ')); btConsoleError.apply(console, a); };
const app = document.getElementById('app');

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else if (k === 'style') e.style.cssText = v; else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

/* 6 significant digits (full precision stays in the CSV/JSON files). */
function fmt(v) {
  if (v === null || v === undefined || v === '') return '–';
  if (typeof v !== 'number') return String(v);
  if (!isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e12)) return v.toExponential(5).replace(/\.?0+e/, 'e');
  return String(Number(v.toPrecision(6)));
}
function pct(v, d) { return v === null || !isFinite(v) ? '–' : (100 * v).toFixed(d === undefined ? 1 : d); }
function dateStr(ms) { return new Date(ms).toISOString().slice(0, 10); }
function section(title, parent) { (parent || app).append(el('h2', {}, title)); const g = el('div', { class: 'grid' }); (parent || app).append(g); return g; }

const btCharts = [];
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
/* A titled chart box; cfg is a Chart.js config (animation off, so the page is drawn on load). */
function chart(parent, title, cfg) {
  const box = el('div', { class: 'chart' }, el('h3', {}, title));
  const inner = el('div', { class: 'box' });
  const c = el('canvas', {});
  inner.append(c); box.append(inner); parent.append(box);
  if (!window.Chart) { inner.replaceWith(el('p', { class: 'warn' }, 'Chart.js was not found when this report was written (Debian package libjs-chart.js): no chart.')); return null; }
  cfg.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false, parsing: false, normalized: true,
    plugins: { legend: { display: (cfg.data.datasets || []).length > 1 } } }, cfg.options || {});
  const ch = new Chart(c, cfg);
  btCharts.push(ch);
  return ch;
}
function timeAxis(extra) { return Object.assign({ type: 'linear', ticks: { callback: (v) => dateStr(v), maxTicksLimit: 8 } }, extra || {}); }
function xy(ts, ys) { const out = []; for (let i = 0; i < ts.length; i++) if (ys[i] !== null) out.push({ x: ts[i], y: ys[i] }); return out; }
function line(label, data, color, extra) { return Object.assign({ label, data, borderColor: color, backgroundColor: color, borderWidth: 1.2, pointRadius: 0 }, extra || {}); }

/* Histogram of values into nb bins: {edges, counts}. */
function histogram(vals, nb) {
  const v = vals.filter((x) => x !== null && isFinite(x));
  if (!v.length) return { lo: 0, w: 1, counts: [] };
  let lo = Math.min(...v), hi = Math.max(...v);
  if (hi === lo) { lo -= 0.5; hi += 0.5; }
  const w = (hi - lo) / nb, counts = new Array(nb).fill(0);
  for (const x of v) counts[Math.min(nb - 1, Math.floor((x - lo) / w))]++;
  return { lo, w, counts };
}

/* Colour of t in [0, 1]: red - white - green. */
function heatColor(t) {
  if (t === null || !isFinite(t)) return '#eee';
  t = Math.max(0, Math.min(1, t));
  const a = t < 0.5 ? [215, 48, 39] : [26, 152, 80], m = t < 0.5 ? 1 - 2 * t : 2 * t - 1;
  const c = a.map((x) => Math.round(255 + (x - 255) * m));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/* The self-check read by tests/browser: every canvas has drawn pixels, no script error. */
function btFinish() {
  const cs = [...document.querySelectorAll('canvas')], blank = [];
  for (const c of cs) {
    let n = 0;
    try {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let k = 3; k < d.length; k += 4) if (d[k]) n++;
    } catch (e) { btErrors.push('getImageData: ' + e.message); }
    if (n < 20) blank.push(c.closest('.chart').querySelector('h3').textContent);
  }
  const v = { kind: BT.kind, canvases: cs.length, blank, errors: btErrors, chartjs: !!window.Chart, ms: Math.round(performance.now()) };
  const pre = el('pre', { id: 'bt-verdict', hidden: '' }, JSON.stringify(v));
  document.body.append(pre);
}
