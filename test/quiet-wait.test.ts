// QuietWait (src/gpu/device.ts): in Node on SwiftShader the wait for a repeated job sleeps through most
// of the job's expected time before it starts awaiting (polling); elsewhere it awaits at once. Jobs
// here are timers standing in for GPU work; what is checked is when the wait starts awaiting the
// result, measured from the submit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuietWait, type GpuContext } from '../src/gpu/device.js';

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs one job that takes `jobMs`; returns how long after the submit the result was first awaited. */
async function job(wait: QuietWait, jobMs: number): Promise<number> {
  let submittedAt = 0;
  let finished: Promise<void> = Promise.resolve();
  let awaitedAfter = NaN;
  await wait.run(() => {
    submittedAt = performance.now();
    finished = delay(jobMs);
  }, () => {
    awaitedAfter = performance.now() - submittedAt;
    return finished;
  });
  return awaitedAfter;
}

const context = (quietWait: boolean) => ({ quietWait }) as GpuContext;

test('with quietWait, the third and later runs sleep through 85% of the shortest of the last runs', async () => {
  const wait = new QuietWait(context(true));
  assert.ok(await job(wait, 200) < 20, 'the first run (may include compiling) awaits at once');
  assert.ok(await job(wait, 100) < 20, 'the second run awaits at once: no estimate yet');
  const third = await job(wait, 100);
  assert.ok(third >= 84 && third < 100, `the third run sleeps about 85 ms of its 100, not ${third.toFixed(1)}`);
  const fourth = await job(wait, 100);
  assert.ok(fourth >= 84 && fourth < 100, `the fourth run sleeps about 85 ms, not ${fourth.toFixed(1)}`);
});

test('a run that ends within the sleep lowers the estimate quickly', async () => {
  const wait = new QuietWait(context(true));
  await job(wait, 10);
  await job(wait, 300); // the estimate: 300 ms
  const overslept = await job(wait, 60); // sleeps 255 ms: the result was ready long before
  assert.ok(overslept >= 250, `slept ${overslept.toFixed(1)} ms on a 300 ms estimate`);
  // That run counts as 70% of its 255 ms, 178.5 ms: the next sleeps 85% of that.
  const next = await job(wait, 60);
  assert.ok(next >= 150 && next < 175, `the run after an oversleep sleeps about 152 ms, not ${next.toFixed(1)}`);
});

test('without quietWait (browsers, llvmpipe, hardware adapters) nothing sleeps', async () => {
  const wait = new QuietWait(context(false));
  for (let i = 0; i < 4; i++) {
    const t = await job(wait, 50);
    assert.ok(t < 20, `run ${i + 1} awaited after ${t.toFixed(1)} ms`);
  }
});

test('a failed job rejects and adds no estimate', async () => {
  const wait = new QuietWait(context(true));
  await job(wait, 10);
  await assert.rejects(wait.run(() => {}, () => Promise.reject(new Error('device lost'))), /device lost/);
  assert.ok(await job(wait, 50) < 20, 'one completed run after the first: still no estimate');
});
