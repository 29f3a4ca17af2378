// BatchNorm folding: a conv followed by an inference-mode BatchNorm becomes one conv with a bias; a
// BatchNorm before a conv or a pool (pre-activation ResNets) becomes a per-channel scale and shift.

/**
 * An inference-mode BatchNorm as a per-channel affine map: bn(x) = x * scale + shift with
 *   scale[c] = gamma[c] / sqrt(var[c] + eps),  shift[c] = beta[c] - mean[c] * scale[c]; every array (C).
 */
export function batchNormAffine(gamma: Float32Array, beta: Float32Array, runningMean: Float32Array, runningVar: Float32Array,
  eps: number): { scale: Float32Array; shift: Float32Array } {
  const C = gamma.length;
  for (const [name, a] of [['beta', beta], ['running_mean', runningMean], ['running_var', runningVar]] as const) {
    if (a.length !== C) throw new Error(`batchNormAffine: ${name} has ${a.length} values, gamma has ${C}`);
  }
  const scale = new Float32Array(C);
  const shift = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const s = gamma[c] / Math.sqrt(runningVar[c] + eps);
    scale[c] = s;
    shift[c] = beta[c] - runningMean[c] * s;
  }
  return { scale, shift };
}

/**
 * Folds an inference-mode BatchNorm that follows a conv into the conv:
 *   bn(conv(x) + b) = conv'(x) + b'  with  scale[k] = gamma[k] / sqrt(var[k] + eps),
 *   weight'[k, ...] = weight[k, ...] * scale[k],  b'[k] = (b[k] - mean[k]) * scale[k] + beta[k].
 * weight is (K, C/G, R, S) (any trailing layout with K outermost); every other array is (K).
 */
export function foldBatchNorm(weight: Float32Array, bias: Float32Array | undefined, gamma: Float32Array, beta: Float32Array,
  runningMean: Float32Array, runningVar: Float32Array, eps: number): { weight: Float32Array; bias: Float32Array } {
  const K = gamma.length;
  for (const [name, a] of [['beta', beta], ['running_mean', runningMean], ['running_var', runningVar], ['bias', bias]] as const) {
    if (a && a.length !== K) throw new Error(`foldBatchNorm: ${name} has ${a.length} values, gamma has ${K}`);
  }
  if (K === 0 || weight.length % K !== 0) throw new Error(`foldBatchNorm: weight length ${weight.length} is not a multiple of K = ${K}`);
  const perK = weight.length / K;
  const w = new Float32Array(weight.length);
  const b = new Float32Array(K);
  for (let k = 0; k < K; k++) {
    const scale = gamma[k] / Math.sqrt(runningVar[k] + eps);
    for (let i = 0; i < perK; i++) w[k * perK + i] = weight[k * perK + i] * scale;
    b[k] = ((bias ? bias[k] : 0) - runningMean[k]) * scale + beta[k];
  }
  return { weight: w, bias: b };
}
