// CPU reference for shaders/topk.wgsl: the k largest of each row, sorted, ties by lower index, NaN last.

export interface TopKEntry {
  index: number;
  value: number;
}

/** Value descending, NaN after every number, equal values (-0 and +0 too) by lower index. */
function byValueDescending(a: TopKEntry, b: TopKEntry): number {
  const an = Number.isNaN(a.value);
  const bn = Number.isNaN(b.value);
  if (an !== bn) return an ? 1 : -1;
  if (!an && a.value !== b.value) return b.value > a.value ? 1 : -1;
  return a.index - b.index;
}

/** x (N, K) -> per row the k best entries, value descending, equal values by lower index. */
export function topk(x: Float32Array, N: number, K: number, k: number): TopKEntry[][] {
  const rows: TopKEntry[][] = [];
  for (let n = 0; n < N; n++) {
    const entries: TopKEntry[] = [];
    for (let i = 0; i < K; i++) entries.push({ index: i, value: x[n * K + i] });
    entries.sort(byValueDescending);
    rows.push(entries.slice(0, k));
  }
  return rows;
}
