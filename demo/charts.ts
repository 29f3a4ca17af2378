// The two charts of the page, drawn as plain DOM (so screen readers and tests read the numbers):
// the top-k results as labelled bars, and the per-step GPU timings.

export interface ResultRow {
  index: number;
  label: string;
  probability: number;
}

export function renderResults(list: HTMLElement, rows: readonly ResultRow[]): void {
  list.replaceChildren(...rows.map((r, rank) => {
    const li = document.createElement('li');
    li.className = 'result';
    // Full-precision values for tests and copy-paste; the text shows a rounded percentage.
    li.dataset.index = String(r.index);
    li.dataset.label = r.label;
    li.dataset.probability = String(r.probability);
    li.dataset.rank = String(rank + 1);
    const pct = r.probability >= 0.001 ? (r.probability * 100).toFixed(1)
      : r.probability >= 0.00001 ? (r.probability * 100).toFixed(3) : '<0.001';
    const name = document.createElement('span');
    name.className = 'result-label';
    name.textContent = r.label;
    name.title = `class ${r.index}`;
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.setAttribute('role', 'meter');
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '100');
    bar.setAttribute('aria-valuenow', (r.probability * 100).toFixed(2));
    bar.setAttribute('aria-label', `${r.label}: ${pct}%`);
    const fill = document.createElement('span');
    fill.className = 'bar-fill';
    fill.style.width = `${Math.max(0, Math.min(1, r.probability)) * 100}%`;
    bar.append(fill);
    const value = document.createElement('span');
    value.className = 'result-value';
    value.textContent = `${pct}%`;
    li.append(name, bar, value);
    return li;
  }));
}

export interface TimingRow {
  name: string;
  ms: number;
  /** 2 x multiply-adds, when the step has a meaningful count. */
  flops?: number;
}

export function renderTimings(container: HTMLElement, rows: readonly TimingRow[]): void {
  const max = Math.max(1e-9, ...rows.map((r) => r.ms));
  const table = document.createElement('table');
  table.className = 'timings';
  const caption = document.createElement('caption');
  caption.textContent = 'GPU time per step (timestamp queries), in plan order';
  const head = document.createElement('thead');
  head.innerHTML = '<tr><th scope="col">step</th><th scope="col">time</th><th scope="col" class="num">ms</th>' +
    '<th scope="col" class="num">GFLOP/s</th></tr>';
  const body = document.createElement('tbody');
  for (const r of rows) {
    const tr = document.createElement('tr');
    tr.className = 'timing';
    tr.dataset.step = r.name;
    tr.dataset.ms = String(r.ms);
    const name = document.createElement('th');
    name.scope = 'row';
    name.textContent = r.name;
    const barCell = document.createElement('td');
    barCell.className = 'timing-bar-cell';
    const bar = document.createElement('span');
    bar.className = 'timing-bar';
    bar.style.width = `${(r.ms / max) * 100}%`;
    barCell.append(bar);
    const ms = document.createElement('td');
    ms.className = 'num';
    ms.textContent = r.ms.toFixed(3);
    const rate = document.createElement('td');
    rate.className = 'num';
    rate.textContent = r.flops && r.ms > 0 ? (r.flops / (r.ms * 1e6)).toFixed(2) : '';
    tr.append(name, barCell, ms, rate);
    body.append(tr);
  }
  table.append(caption, head, body);
  container.replaceChildren(table);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 2 ** 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 2 ** 30) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 2 ** 30).toFixed(2)} GiB`;
}
