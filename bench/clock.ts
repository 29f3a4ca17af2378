// Clocks for the benchmark. Wall time is performance.now(). CPU time is the whole process's user +
// system time (Node only): on a CPU-backed adapter (SwiftShader, llvmpipe) the adapter's worker
// threads live in this process, so CPU time measures the kernels' work even when other programs
// load the machine and stretch the wall time.

const proc = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process;

/** Process CPU time in ms, or undefined where there is none (browsers). */
export function cpuMs(): number | undefined {
  if (!proc?.cpuUsage) return undefined;
  const u = proc.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Logical CPUs of this machine (Node), or navigator.hardwareConcurrency, or 1. */
export async function cpuCount(): Promise<number> {
  if (proc?.cpuUsage) {
    const os = await import('node:os');
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
}

/** GFLOP/s from CPU time: flops / (CPU ms / cpus), i.e. the rate had the process had every core to itself. */
export function cpuRate(flops: number, cpuMedianMs: number | undefined, cpus: number): number | undefined {
  return cpuMedianMs === undefined || cpuMedianMs <= 0 ? undefined : flops / (cpuMedianMs / cpus) / 1e6;
}
