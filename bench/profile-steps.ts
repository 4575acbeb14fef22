/**
 * `node dist/bench/profile-steps.js <file.cpuprofile> [functions per step]`: a CPU profile of the
 * logins one at a time (`BENCH_PROFILE_DIR`), split by request step. The benchmark writes each
 * request's arrival beside the profile (`<file>.steps.json`, steps.ts); each sample is charged to
 * the step whose request arrived last before it, as steps.ts charges CPU. Printed per step: the
 * main thread's sampled time per request (idle left out) and the functions that took the most
 * of it, where each is (a package, a Node.js module, Monban's file, or V8's own work).
 *
 * The samples are wall time, as V8's inspector takes them: a socket write that hands the CPU to
 * the process at the other end counts as the writer's (see the README's Benchmark section).
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { fixed, table } from './report.js';
import type { Arrival } from './steps.js';

/** What V8's `Profiler.stop` returns (the parts used here). */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  /** Monotonic clock, µs: the first sample's time is startTime + timeDeltas[0]. */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface StepProfile {
  step: string;
  requests: number;
  sampledMs: number;
  /** `function (where)` → sampled ms, largest first. */
  functions: [name: string, ms: number][];
}

export const stepsFileOf = (profileFile: string): string => profileFile.replace(/\.cpuprofile$/, '.steps.json');

/** Where a function lives: its package, Node.js module or Monban file; V8's own work has no URL. */
function whereOf(url: string): string {
  if (!url) return 'V8';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url;
  return /dist\/((?:src|bench)\/.+)$/.exec(url)?.[1] ?? url;
}

/** Charges every sample but idle ones to the step whose request arrived last before it. */
export function profileByStep(profile: CpuProfile, arrivals: Arrival[]): StepProfile[] {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const byStep = new Map<string, { requests: number; us: number; functions: Map<string, number> }>();
  const entry = (step: string) => {
    let found = byStep.get(step);
    if (!found) byStep.set(step, (found = { requests: 0, us: 0, functions: new Map() }));
    return found;
  };
  for (const [, step] of arrivals) entry(step).requests += 1;
  let at = profile.startTime;
  let next = 0; // the first arrival after `at`
  profile.samples.forEach((nodeId, i) => {
    at += profile.timeDeltas[i]!;
    while (next < arrivals.length && arrivals[next]![0] <= at) next += 1;
    const frame = frames.get(nodeId);
    if (next === 0 || !frame || frame.functionName === '(idle)') return;
    const step = entry(arrivals[next - 1]![1]);
    const name = `${frame.functionName || '(anonymous)'} (${whereOf(frame.url)})`;
    const us = profile.timeDeltas[i]!;
    step.us += us;
    step.functions.set(name, (step.functions.get(name) ?? 0) + us);
  });
  return [...byStep].map(([step, { requests, us, functions }]) => ({
    step,
    requests,
    sampledMs: us / 1000,
    functions: [...functions].map(([name, fnUs]): [string, number] => [name, fnUs / 1000]).sort((a, b) => b[1] - a[1]),
  }));
}

function main(file: string, top: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const arrivals = JSON.parse(readFileSync(stepsFileOf(file), 'utf8')) as Arrival[];
  for (const step of profileByStep(profile, arrivals)) {
    const perRequest = (ms: number) => fixed(ms / step.requests, 3);
    console.log(`\n${step.step}: ${String(step.requests)} requests, ${perRequest(step.sampledMs)} ms sampled each\n`);
    const rows = step.functions.slice(0, top).map(([name, ms]) => [name, perRequest(ms)]);
    console.log(table([['function (where)', 'ms per request'], ...rows]));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, top = '15'] = process.argv.slice(2);
  if (!file?.endsWith('.cpuprofile')) {
    console.error('usage: node dist/bench/profile-steps.js <file.cpuprofile> [functions per step]');
    process.exit(2);
  }
  main(file, Number(top));
}
