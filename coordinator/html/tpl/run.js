/* report.html of one backtest (bt run): bt_html_run.c writes the blob. */
function metricsTable(parent, m, id) {
  const t = el('table', { id: id || 'bt-metrics' }, el('tr', {}, el('th', { class: 'k' }, 'metric'), el('th', {}, 'value')));
  for (const [k, v] of Object.entries(m)) {
    if (typeof v === 'object' && v !== null) continue;
    const td = el('td', { 'data-value': v === null ? 'null' : String(v) }, fmt(v));
    t.append(el('tr', { 'data-key': k }, el('td', { class: 'k' }, k), td));
  }
  parent.append(t);
}

function monthlyTable(parent, d) {
  /* month-end equity (last daily point of each month) against the previous month's end */
  const months = new Map();
  for (let i = 0; i < d.t.length; i++) { const dt = new Date(d.t[i]); months.set(dt.getUTCFullYear() * 12 + dt.getUTCMonth(), d.eq[i]); }
  const years = new Map(); let prev = d.start;
  for (const [k, eq] of months) {
    const y = Math.floor(k / 12), mo = k % 12;
    if (!years.has(y)) years.set(y, { m: new Array(12).fill(null), first: prev });
    years.get(y).m[mo] = prev ? eq / prev - 1 : null; years.get(y).last = eq; prev = eq;
  }
  const names = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const t = el('table', { class: 'heat', id: 'bt-monthly' }, el('tr', {}, el('th', {}, 'year'), ...names.map((n) => el('th', {}, n)), el('th', {}, 'year')));
  const col = (r) => heatColor(r === null ? null : 0.5 + r / 0.2);
  for (const [y, row] of years) {
    const yr = row.first ? row.last / row.first - 1 : null;
    t.append(el('tr', {}, el('th', {}, y), ...row.m.map((r) => el('td', { style: 'background:' + col(r) }, pct(r))), el('th', { style: 'background:' + heatColor(yr === null ? null : 0.5 + yr / 0.6) }, pct(yr))));
  }
  parent.append(el('div', { class: 'chart' }, el('h3', {}, 'Monthly and yearly returns (%)' + (d.step_days > 1 ? ` (from every ${d.step_days}th day)` : '')), t));
}

function rolling(d, win) {
  const t = [], sh = [], vol = [], r = [];
  for (let i = 1; i < d.eq.length; i++) r.push(d.eq[i - 1] ? d.eq[i] / d.eq[i - 1] - 1 : 0);
  /* points per year on the calendar, as metrics.json annualises (docs/metrics.md) */
  const years = d.t.length > 1 ? (d.t[d.t.length - 1] - d.t[0]) / (365.25 * 86400000) : 0;
  const ppy = years > 0 ? (d.t.length - 1) / years : 252;
  const ann = Math.sqrt(ppy);
  let s = 0, s2 = 0;
  for (let i = 0; i < r.length; i++) {
    s += r[i]; s2 += r[i] * r[i];
    if (i >= win) { s -= r[i - win]; s2 -= r[i - win] * r[i - win]; }
    if (i + 1 >= win) {
      const m = s / win, v = Math.max(0, (s2 - win * m * m) / (win - 1)), sd = Math.sqrt(v);
      t.push(d.t[i + 1]); vol.push(sd * ann); sh.push(sd > 0 ? m / sd * ann : 0);
    }
  }
  return { t, sh, vol };
}

function btMain() {
  const m = BT.metrics_json ? JSON.parse(BT.metrics_json) : {};
  const pv = m.provenance || {};
  const params = Object.entries(pv.params || {}).map(([k, v]) => `${k}=${v}`).join(' ');
  app.append(el('h1', {}, `Backtest: ${pv.strategy || '?'} ${params ? '(' + params + ')' : ''}`));
  app.append(el('p', { class: 'sub' }, `${(pv.symbols || []).join(' ')} · ${BT.n_equity} steps · ${BT.n_trades} round trips · fractions (0.05 = 5 %) unless a column says %`));
  if (BT.note) app.append(el('p', { class: 'warn' }, BT.note));
  const e = BT.equity, d = BT.daily;
  const g1 = section('Equity');
  const ds = [line('strategy', xy(e.t, e.eq), PALETTE[0])];
  if (e.bench.some((x) => x !== null)) ds.push(line('buy and hold (equal weight)', xy(e.t, e.bench), PALETTE[7]));
  chart(g1, 'Equity vs buy-and-hold benchmark', { type: 'line', data: { datasets: ds }, options: { scales: { x: timeAxis() } } });
  chart(g1, 'Underwater (drawdown from the running peak)', { type: 'line', data: { datasets: [line('drawdown', xy(e.t, e.dd.map((x) => x === null ? null : -x)), PALETTE[3], { fill: 'origin', backgroundColor: 'rgba(214,39,40,0.3)' })] },
    options: { scales: { x: timeAxis(), y: { max: 0, ticks: { callback: (v) => pct(v, 0) + ' %' } } } } });
  const win = Math.max(2, Math.round(63 / d.step_days));
  const ro = rolling(d, win);
  chart(g1, `Rolling Sharpe and volatility (${win} daily returns, annualised on the calendar)`, { type: 'line',
    data: { datasets: [line('Sharpe', xy(ro.t, ro.sh), PALETTE[0], { yAxisID: 'y' }), line('volatility', xy(ro.t, ro.vol), PALETTE[1], { yAxisID: 'y1' })] },
    options: { scales: { x: timeAxis(), y: { position: 'left', title: { display: true, text: 'Sharpe' } }, y1: { position: 'right', grid: { drawOnChartArea: false }, title: { display: true, text: 'volatility' } } } } });
  const h = histogram(BT.trade_returns, 30);
  chart(g1, `Trade returns (${BT.trade_returns.length} closed round trips, %)`, { type: 'bar',
    data: { datasets: [{ label: 'trades', data: h.counts.map((c, i) => ({ x: 100 * (h.lo + (i + 0.5) * h.w), y: c })), backgroundColor: h.counts.map((c, i) => h.lo + (i + 0.5) * h.w < 0 ? '#d62728' : '#2ca02c') }] },
    options: { scales: { x: { type: 'linear', offset: false, ticks: { callback: (v) => Number(v.toPrecision(3)) } } }, datasets: { bar: { barPercentage: 1, categoryPercentage: 1 } } } });
  monthlyTable(g1, d);

  if (BT.prices.length) {
    const g2 = section('Prices with entries (▲ long, ▼ short) and exits (✕)');
    const sel = el('select', { id: 'bt-symbol' }, ...BT.prices.map((p, i) => el('option', { value: i }, p.sym)));
    g2.before(el('label', {}, 'symbol ', sel));
    let ch = null;
    const draw = () => {
      const p = BT.prices[+sel.value];
      const data = { datasets: [line(p.sym + ' close', xy(p.t, p.c), PALETTE[0]),
        { type: 'scatter', label: 'entries', data: p.entries.map((a) => ({ x: a[0], y: a[1] })), pointStyle: 'triangle', rotation: p.entries.map((a) => a[2] < 0 ? 180 : 0), radius: 5, backgroundColor: p.entries.map((a) => a[2] < 0 ? '#d62728' : '#2ca02c'), borderColor: '#333', borderWidth: 0.5 },
        { type: 'scatter', label: 'exits', data: p.exits.map((a) => ({ x: a[0], y: a[1] })), pointStyle: 'crossRot', radius: 5, borderColor: '#111', borderWidth: 1.5 }] };
      if (ch) { ch.data = data; ch.update(); } else ch = chart(g2, 'Price and trades (thinned for display: ' + p.t.length + ' points)', { type: 'line', data, options: { scales: { x: timeAxis() } } });
    };
    sel.addEventListener('change', draw);
    draw();
  }
  const g3 = section('Metrics and provenance');
  const mb = el('div', { class: 'chart' }, el('h3', {}, 'metrics.json'));
  metricsTable(mb, m);
  g3.append(mb);
  const pb = el('div', { class: 'chart' }, el('h3', {}, 'Provenance'));
  const pt = el('table', { id: 'bt-provenance' });
  for (const k of ['config', 'config_sha256', 'data_store', 'data_hash', 'bt_version', 'strategy', 'command_line'])
    pt.append(el('tr', {}, el('td', { class: 'k' }, k), el('td', { class: 'k' }, pv[k] === undefined ? '–' : String(pv[k]))));
  pt.append(el('tr', {}, el('td', { class: 'k' }, 'build_id (of the program that wrote this page)'), el('td', { class: 'k' }, BT.build_id)));
  pb.append(pt);
  if (BT.provenance_txt) pb.append(el('pre', {}, BT.provenance_txt));
  g3.append(pb);
}
