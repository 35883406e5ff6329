/* report.html of a sweep or walk-forward sweep: bt_html_sweep.c writes the blob. */
function median(a) { const v = a.filter((x) => x !== null && isFinite(x)).sort((x, y) => x - y); if (!v.length) return null; const h = v.length >> 1; return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2; }
function colOf(t, name) { return t ? t.cols.indexOf(name) : -1; }
function num(x) { return typeof x === 'number' ? x : null; }

/* Axes of results.csv: the columns between job_id and the first metric; a
 * labelled axis (NAME, NAME_index) shows its labels, ordered by index. */
function sweepAxes(res) {
  const first = res.cols.findIndex((c) => BT.metric_names.includes(c));
  const axes = [];
  for (let c = 1; c < first; c++) {
    const name = res.cols[c];
    if (name.endsWith('_index') && res.cols.includes(name.slice(0, -6))) continue;
    const ic = res.cols.indexOf(name + '_index');
    const byKey = new Map();
    for (const r of res.rows) { const key = ic >= 0 ? r[ic] : r[c]; if (!byKey.has(key)) byKey.set(key, String(r[c])); }
    const keys = [...byKey.keys()].sort((a, b) => (typeof a === 'number' && typeof b === 'number') ? a - b : String(a).localeCompare(String(b)));
    axes.push({ name, col: ic >= 0 ? ic : c, keys, labels: keys.map((k) => byKey.get(k)) });
  }
  return axes;
}

function summaryField(re) { const m = BT.summary ? BT.summary.match(re) : null; return m; }

function heatmaps(parent, res, axes, okRows, rc, desc, winner) {
  if (axes.length < 2) return;
  const g = section('Heatmaps of the ranking metric for each pair of axes', parent);
  const vals = okRows.map((r) => num(r[rc])).filter((x) => x !== null);
  const lo = Math.min(...vals), hi = Math.max(...vals);
  const scale = (v) => v === null ? null : (hi > lo ? (desc ? (v - lo) / (hi - lo) : (hi - v) / (hi - lo)) : 0.5);
  const ctl = el('div', {}, 'other axes: ');
  const mode = el('select', { id: 'bt-heat-mode' }, el('option', { value: 'fixed' }, 'fixed at the values below (default: the winner)'), el('option', { value: 'median' }, 'median over the other axes'));
  ctl.append(mode);
  const fixed = axes.map((a, i) => { const s = el('select', { 'data-axis': a.name }, ...a.keys.map((k, j) => el('option', { value: j }, a.labels[j]))); s.value = String(Math.max(0, a.keys.indexOf(winner ? winner[a.col] : a.keys[0]))); return s; });
  if (axes.length > 2) axes.forEach((a, i) => ctl.append(el('label', {}, ' ' + a.name + ' ', fixed[i])));
  g.before(ctl);
  g.before(el('p', { class: 'sub' }, `colour: ${BT.rank_by} from worst (red) to best (green) over all trials; outlined: the winner; empty: no trial (constraint or failed)`));
  const boxes = [];
  for (let i = 0; i < axes.length; i++) for (let k = i + 1; k < axes.length; k++) { const b = el('div', { class: 'chart' }); g.append(b); boxes.push([i, k, b]); }
  const draw = () => {
    for (const [i, k, box] of boxes) {
      const A = axes[i], B = axes[k];
      const cells = new Map();
      for (const r of okRows) {
        let keep = true;
        if (mode.value === 'fixed') axes.forEach((x, q) => { if (q !== i && q !== k && r[x.col] !== x.keys[+fixed[q].value]) keep = false; });
        if (!keep) continue;
        const key = A.keys.indexOf(r[A.col]) + ',' + B.keys.indexOf(r[B.col]);
        if (!cells.has(key)) cells.set(key, []);
        cells.get(key).push(num(r[rc]));
      }
      const t = el('table', { class: 'heat' }, el('tr', {}, el('th', {}, A.name + ' \\ ' + B.name), ...B.labels.map((l) => el('th', {}, l))));
      A.keys.forEach((ak, ai) => {
        const tr = el('tr', {}, el('th', {}, A.labels[ai]));
        B.keys.forEach((bk, bi) => {
          const c = cells.get(ai + ',' + bi);
          const v = c ? (c.length === 1 ? c[0] : median(c)) : null;
          const td = el('td', { style: 'background:' + heatColor(scale(v)) }, v === null ? '' : fmt(Number(v.toPrecision(3))));
          if (winner && winner[A.col] === ak && winner[B.col] === bk) td.className = 'win';
          tr.append(td);
        });
        t.append(tr);
      });
      box.replaceChildren(el('h3', {}, `${BT.rank_by}: ${A.name} × ${B.name}` + (mode.value === 'median' && axes.length > 2 ? ' (median over the other axes)' : '')), t);
    }
  };
  mode.addEventListener('change', draw);
  fixed.forEach((s) => s.addEventListener('change', draw));
  draw();
}

function sensitivity(parent, axes, okRows, rc, winner) {
  const g = section('Sensitivity: the ranking metric along each axis', parent);
  for (const a of axes) {
    const atWin = [], med = [];
    a.keys.forEach((k, j) => {
      const here = okRows.filter((r) => r[a.col] === k);
      med.push({ x: j, y: median(here.map((r) => num(r[rc]))) });
      const w = winner ? here.find((r) => axes.every((b) => b === a || r[b.col] === winner[b.col])) : null;
      atWin.push({ x: j, y: w ? num(w[rc]) : null });
    });
    const ds = [line('other axes at the winner', atWin.filter((p) => p.y !== null), PALETTE[0], { pointRadius: 3 }), line('median over the other axes', med.filter((p) => p.y !== null), PALETTE[1], { pointRadius: 3, borderDash: [5, 3] })];
    chart(g, `${BT.rank_by} vs ${a.name}`, { type: 'line', data: { datasets: ds },
      options: { plugins: { legend: { display: true } }, scales: { x: { type: 'linear', ticks: { stepSize: 1, callback: (v) => a.labels[v] !== undefined ? a.labels[v] : '' } } } } });
  }
}

/* All trials' Sharpe ratios against the zero-skill picture behind the deflated Sharpe:
 * per-step Sharpe of a no-skill trial ~ N(0, 1/n); annualised with the best trial's factor. */
function sharpeDistribution(parent, res, okRows) {
  const sc = colOf(res, 'sharpe');
  if (sc < 0) return;
  const g = section('Overfitting: Sharpe of all trials vs zero skill, PBO', parent);
  const sh = okRows.map((r) => num(r[sc]));
  const h = histogram(sh, 30);
  const ds = [{ type: 'bar', label: 'trials', data: h.counts.map((c, i) => ({ x: h.lo + (i + 0.5) * h.w, y: c })), backgroundColor: 'rgba(31,119,180,0.6)' }];
  const m = summaryField(/\(job (\d+), Sharpe ([-+.\deE]+) per step over (\d+) returns\) beats ([-+.\deE]+)/);
  let note = 'no deflated Sharpe line in summary.txt (e.g. walk-forward: computed per window)';
  if (m) {
    const job = +m[1], srStep = +m[2], n = +m[3], sr0 = +m[4];
    const jr = res.rows.find((r) => r[0] === job);
    const k = jr && srStep ? num(jr[sc]) / srStep : null;
    if (k) {
      const sd = Math.abs(k) / Math.sqrt(n), total = sh.length, pts = [];
      for (let i = 0; i <= 120; i++) { const x = h.lo - h.w * 5 + (h.w * (h.counts.length + 10)) * i / 120; pts.push({ x, y: total * h.w * Math.exp(-0.5 * (x / sd) ** 2) / (sd * Math.sqrt(2 * Math.PI)) }); }
      ds.push(line('zero skill (expected count)', pts, PALETTE[3], { type: 'line' }));
      const top = Math.max(...h.counts, 1);
      ds.push(line('expected best of the trials by luck', [{ x: sr0 * k, y: 0 }, { x: sr0 * k, y: top }], PALETTE[2], { type: 'line', borderDash: [6, 3], borderWidth: 2 }));
      note = `${total} trials; zero-skill Sharpe ~ N(0, ${fmt(sd)}) annualised; the best of ${total} such trials is expected near ${fmt(sr0 * k)}`;
    }
  }
  chart(g, 'Sharpe ratio of all trials (annualised)', { type: 'bar', data: { datasets: ds },
    options: { plugins: { legend: { display: true } }, scales: { x: { type: 'linear' } }, datasets: { bar: { barPercentage: 1, categoryPercentage: 1 } } } });
  g.lastChild.append(el('p', { class: 'sub' }, note));
  const dl = summaryField(/deflated Sharpe ([\d.]+)/), pl = summaryField(/PBO ([\d.]+) over/);
  const lc = BT.pbo_logits ? colOf(BT.pbo_logits, 'logit') : -1;
  if (lc >= 0) {
    const lg = BT.pbo_logits.rows.map((r) => num(r[lc]));
    const hh = histogram(lg, 30);
    chart(g, `PBO: logit of the in-sample best trial's out-of-sample rank (${lg.length} splits; left of 0 = overfit)`, { type: 'bar',
      data: { datasets: [{ label: 'splits', data: hh.counts.map((c, i) => ({ x: hh.lo + (i + 0.5) * hh.w, y: c })), backgroundColor: hh.counts.map((c, i) => hh.lo + (i + 0.5) * hh.w <= 0 ? '#d62728' : '#2ca02c') }] },
      options: { scales: { x: { type: 'linear' } }, datasets: { bar: { barPercentage: 1, categoryPercentage: 1 } } } });
  }
  g.append(el('div', { class: 'chart' }, el('h3', {}, 'Overfitting statistics (summary.txt)'),
    el('table', { id: 'bt-overfit' }, el('tr', {}, el('td', { class: 'k' }, 'deflated Sharpe of the winner'), el('td', {}, dl ? dl[1] : 'n/a')),
      el('tr', {}, el('td', { class: 'k' }, 'probability of backtest overfitting (PBO)'), el('td', {}, pl ? pl[1] : 'n/a'))),
    el('p', { class: 'sub' }, 'deflated Sharpe below 0.95: the winner is not significant; PBO above 0.5: the selection is overfit (docs/overfitting.md)')));
}

function topTable(parent, rank, axes, rc) {
  if (!rank) return;
  const g = section(`Top ${Math.min(20, rank.rows.length)} by ${BT.rank_by}`, parent);
  const keep = ['rank', 'job_id', ...axes.map((a) => a.name), BT.rank_by, 'total_return', 'cagr', 'max_drawdown', 'trades', 'psr'].filter((c, i, a) => a.indexOf(c) === i && rank.cols.includes(c));
  const t = el('table', { id: 'bt-top' }, el('tr', {}, ...keep.map((c) => el('th', {}, c))));
  for (const r of rank.rows.slice(0, 20)) t.append(el('tr', {}, ...keep.map((c) => { const v = r[rank.cols.indexOf(c)]; return el('td', { 'data-value': String(v) }, fmt(v)); })));
  g.append(el('div', { class: 'chart' }, t));
}

function topEquity(parent) {
  const te = BT.top_equity;
  if (!te || !te.t.length) return;
  const g = section('Equity of the top points (re-run by the coordinator at the end of the sweep)', parent);
  const jobs = [...new Set(te.g)];
  const ds = jobs.map((job, i) => line(`job ${job}` + (i === 0 ? ' (winner)' : ''), te.t.map((t, k) => ({ x: t, y: te.v[k], g: te.g[k] })).filter((p) => p.g === job).map((p) => ({ x: p.x, y: p.y })), PALETTE[i % 10], { borderWidth: i === 0 ? 2 : 1 }));
  chart(g, 'Equity', { type: 'line', data: { datasets: ds }, options: { plugins: { legend: { display: true } }, scales: { x: timeAxis() } } });
}

function walkForward(parent) {
  const wf = BT.walkforward, oos = BT.oos;
  if (!wf) return;
  const g = section('Walk-forward', parent);
  const eff = summaryField(/walk-forward efficiency[^:]*:\s*([-+.\deEna]+)/);
  g.append(el('div', { class: 'chart' }, el('h3', {}, 'Walk-forward efficiency (out-of-sample cagr / in-sample cagr)'),
    el('p', { id: 'bt-wfe', style: 'font-size:28px;margin:8px' }, eff ? fmt(Number(eff[1])) : 'n/a'),
    el('p', { class: 'sub' }, `${wf.rows.length} windows; near 1: the out-of-sample result kept what the training promised; near 0 or negative: it did not`)));
  if (oos && oos.t.length) {
    const bounds = []; for (let i = 0; i < oos.t.length; i++) if (i === 0 || oos.g[i] !== oos.g[i - 1]) bounds.push(oos.t[i]);
    const vlines = { id: 'vlines', afterDatasetsDraw(c) { const { ctx, chartArea: a, scales: { x } } = c; ctx.save(); ctx.strokeStyle = 'rgba(0,0,0,0.3)'; ctx.setLineDash([4, 3]); for (const b of bounds) { const px = x.getPixelForValue(b); ctx.beginPath(); ctx.moveTo(px, a.top); ctx.lineTo(px, a.bottom); ctx.stroke(); } ctx.restore(); } };
    chart(g, 'Stitched out-of-sample equity (dashed: window starts)', { type: 'line', data: { datasets: [line('out-of-sample equity', xy(oos.t, oos.v), PALETTE[0])] }, options: { scales: { x: timeAxis() } }, plugins: [vlines] });
  }
  const is = colOf(wf, 'is_' + BT.rank_by), os = colOf(wf, 'oos_' + BT.rank_by), wc = colOf(wf, 'window');
  if (is >= 0 && os >= 0)
    chart(g, `In-sample vs out-of-sample ${BT.rank_by} per window`, { type: 'bar', data: { datasets: [
      { label: 'in-sample (chosen point)', data: wf.rows.map((r) => ({ x: r[wc], y: num(r[is]) })), backgroundColor: PALETTE[7] },
      { label: 'out-of-sample', data: wf.rows.map((r) => ({ x: r[wc], y: num(r[os]) })), backgroundColor: PALETTE[0] }] },
      options: { plugins: { legend: { display: true } }, scales: { x: { type: 'linear', ticks: { stepSize: 1 }, title: { display: true, text: 'window' } } } } });
  const jc = colOf(wf, 'job_id'), ic = colOf(wf, 'is_' + BT.rank_by), tc = colOf(wf, 'test_start');
  const params = wf.cols.slice(jc + 1, ic);
  params.forEach((p, i) => {
    const c = wf.cols.indexOf(p);
    chart(g, `Chosen ${p} per window (test start on hover)`, { type: 'line', data: { datasets: [line(p, wf.rows.map((r) => ({ x: r[wc], y: num(r[c]), label: r[tc] })).filter((q) => q.y !== null), PALETTE[(i + 2) % 10], { stepped: true, pointRadius: 3 })] },
      options: { scales: { x: { type: 'linear', ticks: { stepSize: 1 }, title: { display: true, text: 'window' } } } } });
  });
}

function btMain() {
  const res = BT.results;
  const rm = summaryField(/ranked by:\s*(\S+) \((descending|ascending)\)/);
  BT.rank_by = rm ? rm[1] : 'sharpe';
  const desc = rm ? rm[2] === 'descending' : true;
  const strat = summaryField(/strategy:\s*(\S+)/);
  app.append(el('h1', {}, (BT.walkforward ? 'Walk-forward sweep: ' : 'Sweep: ') + (strat ? strat[1] : '')));
  const rc = colOf(res, BT.rank_by), sc = colOf(res, 'status');
  const okRows = res.rows.filter((r) => r[sc] === 'ok');
  let axes = sweepAxes(res);
  const wfAxis = axes.find((a) => a.name === 'wf.window');
  axes = axes.filter((a) => a.name !== 'wf.window');
  const rank = BT.ranking;
  const winId = rank && rank.rows.length ? rank.rows[0][colOf(rank, 'job_id')] : null;
  const winner = res.rows.find((r) => r[0] === winId) || null;
  app.append(el('p', { class: 'sub' }, `${res.total_rows} trials (${okRows.length} ok${res.rows.length < res.total_rows ? '; the first ' + res.rows.length + ' drawn' : ''}), ranked by ${BT.rank_by} (${desc ? 'higher' : 'lower'} is better); axes: ${axes.map((a) => a.name + ' (' + a.keys.length + ')').join(', ')}` + (wfAxis ? `; ${wfAxis.keys.length} walk-forward windows` : '')));
  if (winner) app.append(el('p', { id: 'bt-winner' }, `winner: job ${winId}: ` + axes.map((a) => `${a.name}=${winner[a.col]}`).join(' ') + `, ${BT.rank_by} ${fmt(num(winner[rc]))}` + (wfAxis ? ' (global ranking over all windows; the per-window choices are below)' : '')));
  if (BT.walkforward) walkForward(app);
  if (!wfAxis) {
    heatmaps(app, res, axes, okRows, rc, desc, winner);
    sensitivity(app, axes, okRows, rc, winner);
    topEquity(app);
  }
  sharpeDistribution(app, res, okRows);
  topTable(app, rank, axes.concat(wfAxis ? [wfAxis] : []), rc);
  app.append(el('h2', {}, 'summary.txt'), el('pre', { id: 'bt-summary' }, BT.summary || '(missing)'));
  app.append(el('p', { class: 'sub' }, 'build id of the program that wrote this page: ' + BT.build_id));
}
