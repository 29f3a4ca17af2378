// Half-precision storage, shared by the kernels that read or write f16 tensors (conv2d, pool2d, se).
// Not a kernel: a shader takes it in with a line `#include half` in its F16 block (src/gpu/shaders.ts
// puts the file in before it resolves the variants), and declares `enable f16;` itself under
// SHADER_F16, since an enable directive must come before every declaration.
//
//   Half4  4 channels: vec4<f16> with SHADER_F16, else two u32 words of pairs (pack2x16float, core WGSL)
//   Half2  2 channels: vec2<f16> with SHADER_F16, else one u32 word
// Loads widen to f32; stores saturate to +-F16_MAX first (an out-of-range conversion to f16 is
// indeterminate in WGSL).

/** The largest finite f16. */
const F16_MAX = 65504.0;

#if SHADER_F16
alias Half4 = vec4<f16>;
fn fromHalf4(v: Half4) -> vec4<f32> { return vec4<f32>(v); }
fn toHalf4(v: vec4<f32>) -> Half4 { return Half4(clamp(v, vec4<f32>(-F16_MAX), vec4<f32>(F16_MAX))); }
alias Half2 = vec2<f16>;
fn fromHalf2(v: Half2) -> vec2<f32> { return vec2<f32>(v); }
#else
alias Half4 = vec2<u32>;
fn fromHalf4(v: Half4) -> vec4<f32> { return vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y)); }
fn toHalf4(v: vec4<f32>) -> Half4 {
  let c = clamp(v, vec4<f32>(-F16_MAX), vec4<f32>(F16_MAX));
  return Half4(pack2x16float(c.xy), pack2x16float(c.zw));
}
alias Half2 = u32;
fn fromHalf2(v: Half2) -> vec2<f32> { return unpack2x16float(v); }
#endif
