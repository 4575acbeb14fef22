/**
 * Main-thread CPU per step of a login, read in the process that serves it while the load process
 * logs in one browser at a time. It is the quiet twin of the loaded login phase, whose CPU per
 * login drifts with the box's neighbours: here each step says what it costs.
 *
 * Requests never overlap, so each step is charged the main thread's CPU from its request's
 * arrival (Node's HTTP diagnostics channel) to the next request's: its own work, the writes it
 * deferred until after its answer, and the next request's HTTP parsing. Not to its response's
 * end: Linux updates a thread's CPU time (getrusage) only when the thread sleeps or at a timer
 * tick, so the work after a request's last wait would be charged to whatever came next.
 * process.threadCpuUsage (Node >= 23.9) reads the main thread alone, leaving out libuv's pool,
 * where bcrypt hashes.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { threadCpuUs } from './cpu.js';

export interface StepCpu {
  /** `GET /auth/:id`: the method and the path, with ids replaced. */
  step: string;
  requests: number;
  cpuMs: number;
}

/** A request's arrival on the monotonic clock V8's CPU profiler stamps its samples with (µs), and its step. */
export type Arrival = [atUs: number, step: string];

export interface StepsRecorded {
  steps: StepCpu[];
  /** Main-thread CPU from the recording's start to its end (before the first request too). */
  totalCpuMs: number;
  /** When asked for: every request's arrival, for splitting a CPU profile by step (profile-steps.ts). */
  arrivals?: Arrival[];
}

const cpuMsNow = () => threadCpuUs() / 1000;

/** Interaction uids, token values and other long random segments become `:id`. */
function stepOf(request: IncomingMessage): string {
  const path = (request.url ?? '/').split('?')[0]!.replace(/\/[A-Za-z0-9_-]{16,}(?=\/|$)/g, '/:id');
  return `${request.method ?? 'GET'} ${path}`;
}

let recording:
  | { began: number; steps: Map<string, StepCpu>; current?: { step: string; since: number }; arrivals?: Arrival[] }
  | undefined;

/** Charges the step running until now, and starts `next` (undefined: the recording ends). */
function switchTo(next: string | undefined): void {
  if (!recording) return;
  const now = cpuMsNow();
  const { current, steps } = recording;
  if (current) {
    const entry = steps.get(current.step) ?? { step: current.step, requests: 0, cpuMs: 0 };
    entry.requests += 1;
    entry.cpuMs += now - current.since;
    steps.set(current.step, entry);
  }
  recording.current = next === undefined ? undefined : { step: next, since: now };
}

const onStart = (message: unknown) => {
  const step = stepOf((message as { request: IncomingMessage }).request);
  // process.hrtime reads CLOCK_MONOTONIC, as V8's profiler does on Linux.
  recording?.arrivals?.push([Number(process.hrtime.bigint() / 1000n), step]);
  switchTo(step);
};

export function startRecordingSteps({ arrivals = false } = {}): void {
  if (recording) throw new Error('steps are being recorded already');
  recording = { began: cpuMsNow(), steps: new Map(), ...(arrivals ? { arrivals: [] } : {}) };
  subscribe('http.server.request.start', onStart);
}

export function stopRecordingSteps(): StepsRecorded {
  if (!recording) throw new Error('no steps are being recorded');
  unsubscribe('http.server.request.start', onStart);
  switchTo(undefined);
  const { began, steps, arrivals } = recording;
  recording = undefined;
  return { steps: [...steps.values()], totalCpuMs: cpuMsNow() - began, ...(arrivals ? { arrivals } : {}) };
}
