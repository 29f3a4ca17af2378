// CPU reference for shaders/topk.wgsl: the k largest of each row, sorted, ties by lower index.

export interface TopKEntry {
  index: number;
  value: number;
}

/** x (N, K) -> per row the k best entries, value descending, equal values by lower index. */
export function topk(x: Float32Array, N: number, K: number, k: number): TopKEntry[][] {
  const rows: TopKEntry[][] = [];
  for (let n = 0; n < N; n++) {
    const entries: TopKEntry[] = [];
    for (let i = 0; i < K; i++) entries.push({ index: i, value: x[n * K + i] });
    entries.sort((a, b) => (b.value - a.value) || (a.index - b.index));
    rows.push(entries.slice(0, k));
  }
  return rows;
}
