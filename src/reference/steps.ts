// The CPU reference of a whole plan step, for the runner's validate() mode: each step kind's plain-loop
// oracle (this folder) applied to the step's inputs. The runtime loads this module only when validate()
// is called (a dynamic import), so inference never carries the oracle.

import { convDesc } from '../graph/steps.js';
import type { Step } from '../models/plan.js';
import type { FoldedParams } from '../weights/load.js';
import { conv2dRef } from './conv2d.js';
import { nchwToNhwc } from './layout.js';
import { linear } from './linear.js';
import { pool2d } from './pool2d.js';
import { scaleResidualRelu, squeezeExcite } from './se.js';
import { eca } from './eca.js';
import { softmax } from './softmax.js';

/** The CPU reference of step `s` on `inputs` (batch N, the shapes of stepTensorShape). */
export function referenceStep(s: Step, N: number, inputs: Float32Array[], p: FoldedParams | undefined): Float32Array {
  switch (s.kind) {
    case 'conv':
      return conv2dRef(inputs[0], convDesc(s, N), p!.weight, p!.bias, inputs[1], p!.pre);
    case 'layout':
      return nchwToNhwc(inputs[0], [N, s.C, s.H, s.W]);
    case 'maxpool':
      return pool2d(inputs[0], [N, s.H, s.W, s.C], { mode: 'max', kernel: [s.kernel, s.kernel], stride: [s.stride, s.stride],
        pad: [s.pad, s.pad], ceilMode: s.ceil, countIncludePad: true }).data;
    case 'avgpool2d':
      return pool2d(inputs[0], [N, s.H, s.W, s.C], { mode: 'avg', kernel: [s.kernel, s.kernel], stride: [s.stride, s.stride],
        pad: [s.pad, s.pad], ceilMode: s.ceil, countIncludePad: s.countIncludePad }).data;
    case 'avgpool': {
      const k: [number, number] = s.window === 'global' ? [s.H, s.W] : [s.window, s.window];
      return pool2d(inputs[0], [N, s.H, s.W, s.C], { mode: 'avg', kernel: k, stride: [1, 1], pad: [0, 0], ceilMode: false,
        countIncludePad: true, preAct: s.norm ? { scale: p!.weight, shift: p!.bias } : undefined }).data;
    }
    case 'linear':
      return linear(inputs[0], p!.weight, p!.bias, N, s.C, s.K);
    case 'squeeze-excite':
      return squeezeExcite(inputs[0], N, s.H * s.W, s.K, s.hidden, p!.weight, p!.bias, p!.fc2!.weight, p!.fc2!.bias);
    case 'eca':
      return eca(inputs[0], N, s.H * s.W, s.K, p!.weight);
    case 'scale-residual':
      return scaleResidualRelu(inputs[0], inputs[1], inputs[2], N, s.H * s.W, s.K);
    case 'softmax':
      return softmax(inputs[0], N, s.K);
    case 'topk':
    case 'preprocess':
      // validate() runs the NCHW -> logits plan; these two are checked by their own op tests.
      throw new Error(`step ${s.name}: validate() has no reference for '${s.kind}'`);
  }
}
