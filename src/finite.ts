// Non-finite values (NaN, +-Infinity): found in weights at load and conversion, and in an
// inference's outputs, so that they become an error instead of a silent wrong answer.

/** An inference produced NaN or infinite values (logits, probabilities or embeddings). */
export class NonFiniteOutputError extends Error {
  override name = 'NonFiniteOutputError';
}

/** An inference's NCHW input holds NaN or an infinity (which a ReLU could silently turn into 0). */
export class NonFiniteInputError extends RangeError {
  override name = 'NonFiniteInputError';
}

/** Throws NonFiniteInputError when the NCHW input `values`, `batch` images, hold a NaN or infinity. */
export function checkFiniteInput(values: ArrayLike<number>, batch: number): void {
  const i = firstNonFinite(values);
  if (i < 0) return;
  const per = values.length / batch;
  throw new NonFiniteInputError(`the input holds ${values[i]} at image ${Math.floor(i / per)}, value ${i % per} (NCHW): ` +
    'inputs must be finite numbers');
}

/** Index of the first NaN or infinite value of `values`, or -1 when every value is finite. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) {
    // x - x is 0 for every finite x and NaN for NaN and +-Infinity: one test per value.
    const x = values[i];
    if (x - x !== 0) return i;
  }
  return -1;
}

/** Throws NonFiniteOutputError when `values`, (rows, values.length / rows), hold a NaN or infinity; `what` names them. */
export function checkFiniteOutput(values: ArrayLike<number>, rows: number, what: string): void {
  const i = firstNonFinite(values);
  if (i < 0) return;
  const width = values.length / rows;
  throw new NonFiniteOutputError(`${what}: ${values[i]} at image ${Math.floor(i / width)}, value ${i % width}: ` +
    'the weights or the input hold NaN or infinite values, or the computation overflowed');
}
