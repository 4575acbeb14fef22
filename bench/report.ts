/** The benchmark's results (written as JSON) and the text report with issue 16's goals. */
import { WAKE_UP_IDLE_MS, type MachineTraits } from './machine.js';

/** One side of a comparison: medians over the rounds, and totals divided per operation. */
export interface Side {
  rate: number;
  /** Each round's rate, in run order. */
  rates: number[];
  p50Ms: number;
  p99Ms: number;
  completed: number;
  /** Process CPU time (all threads; a cluster's workers included) per completed operation. */
  cpuMsPerOp: number;
  /** Of cpuMsPerOp, the threads of libuv's pool (where bcrypt hashes); absent in results from before it was measured. */
  poolCpuMsPerOp?: number;
  /** Of cpuMsPerOp, the main threads (the rest besides the pool: V8's helper threads); absent in older results. */
  mainThreadCpuMsPerOp?: number;
  /** Times the main threads slept and were woken, per operation (Linux's voluntary context switches); absent in older results. */
  mainThreadWakeUpsPerOp?: number;
  /** CPU time of the PostgreSQL backends serving the benchmark's database, per operation. */
  pgCpuMsPerOp: number;
  /** CPU time of the load generator (the clients), per operation. */
  loadCpuMsPerOp: number;
  /** CPU time of the local Redis server (whoever it served in the window), per operation. */
  redisCpuMsPerOp: number;
  /** The main thread's garbage-collection pauses per operation (single-process Monban only; absent in older results). */
  gcPausesMsPerOp?: number;
  /** Counted by the app's instrumentation (single-process Monban only). */
  dbStatementsPerOp?: number;
  redisCommandsPerOp?: number;
  redisRoundTripsPerOp?: number;
  errors: number;
}

/** Logins one at a time: the main thread's CPU per request step (steps.ts), per login. */
export interface LoginSteps {
  logins: number;
  mainThreadCpuMsPerLogin: number;
  /** Times the main thread slept and was woken, per login (absent in older results). */
  mainThreadWakeUpsPerLogin?: number;
  /** Before the first request: what the steps leave out (timers, the load process's first connection). */
  outsideStepsCpuMsPerLogin: number;
  /** Of mainThreadCpuMsPerLogin, garbage-collection pauses (single-process Monban only; absent in older results). */
  gcPausesMsPerLogin?: number;
  steps: { step: string; requestsPerLogin: number; cpuMsPerRequest: number }[];
}

export interface FigureResult {
  id: string;
  name: string;
  monban: Side;
  baseline: Side;
  /** Monban's median rate / the baseline's median rate. */
  ratio: number;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  machine: {
    node: string;
    cores: number;
    cpu: string;
    platform: string;
    loadAverageBefore: number[];
    loadAverageAfter: number[];
  } & Partial<MachineTraits>; // absent from results written before they were recorded
  settings: Record<string, unknown>;
  protocol: FigureResult[];
  logins: {
    monban: Side;
    bcryptCeiling: Side;
    /** Logins at the bare oidc-provider, whose interaction finishes at once: the library's own floor. */
    bareProvider: Side;
    ratio: number;
    bcryptCpuMsPerCheck: number;
    /** Monban's CPU per login outside libuv's pool, where bcrypt hashes (before that was measured: the next figure). */
    nonHashCpuMsPerLogin: number;
    /** CPU per login minus the ceiling's CPU per check: two large figures from different windows. */
    cpuBesidesCeilingMsPerLogin?: number;
    /** Complete logins with a passkey alone (issue 17): no bcrypt. */
    passkey: Side;
    passkeyToPasswordRatio: number;
    /** Absent in results from before it was measured. */
    steps?: LoginStepSides;
    /** Password logins in the warm-up before the rounds, right after start (absent in older results). */
    warmUp?: { seconds: number; logins: number; nonHashCpuMsPerLogin: number; mainThreadCpuMsPerLogin: number };
    redisBytesPerSession: number;
    redisKeysPerSession: number;
    /** The same per key family (`o:SE`, `o:GR`, `rl:login`, ...), to see where the bytes go. */
    redisBytesPerSessionByFamily?: Record<string, { keys: number; bytes: number }>;
  };
  memory: { monbanRssBytes: number; monbanHeapUsedBytes: number };
  embedded?: {
    clientCredentials: FigureResult;
    rssIdleBytes: number;
    rssLoadedBytes: number;
    heapUsedLoadedBytes: number;
  };
  scaling: { workers: number; clientCredentials: Side; logins: Side }[];
  goals?: Goal[];
  errors: string[];
}

export interface Goal {
  what: string;
  value: number;
  goal: string;
  met: boolean;
}

export const fixed = (value: number | undefined, digits: number): string =>
  value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** The logins one at a time of each side (the cheap-hash Monban is absent in older results). */
export interface LoginStepSides {
  monban: LoginSteps;
  bareProvider: LoginSteps;
  /** Monban with bcrypt at `cheapBcryptCost`, its users hashed so: the code's own CPU per login. */
  monbanCheapHash?: LoginSteps;
  cheapBcryptCost?: number;
}

/** Logins one at a time of one or more servers, a row per step of each: CPU per step. */
export function stepsTable(sides: [name: string, steps: LoginSteps][]): string {
  const rows = (side: LoginSteps, name: string) => [
    ...side.steps.map((s) => [
      name,
      s.step,
      fixed(s.requestsPerLogin, 2),
      fixed(s.cpuMsPerRequest, 2),
      fixed(s.requestsPerLogin * s.cpuMsPerRequest, 2),
    ]),
    [name, 'outside the steps', '', '', fixed(side.outsideStepsCpuMsPerLogin, 2)],
    [
      name,
      side.mainThreadWakeUpsPerLogin === undefined
        ? `all (${String(side.logins)} logins)`
        : `all (${String(side.logins)} logins, ${fixed(side.mainThreadWakeUpsPerLogin, 1)} wake-ups each)`,
      '',
      '',
      fixed(side.mainThreadCpuMsPerLogin, 2),
    ],
    ...(side.gcPausesMsPerLogin !== undefined
      ? [[name, '  of which garbage-collection pauses', '', '', fixed(side.gcPausesMsPerLogin, 2)]]
      : []),
  ];
  return table([
    ['server', 'step', 'requests per login', 'CPU ms per request', 'CPU ms per login'],
    ...sides.flatMap(([name, side]) => rows(side, name)),
  ]);
}

/** Monban's and the bare provider's logins, one at a time, side by side: CPU per step. */
function stepsReport({ monban, bareProvider, monbanCheapHash, cheapBcryptCost }: LoginStepSides): string[] {
  const cheapName = `Monban, bcrypt cost ${String(cheapBcryptCost)}`;
  return [
    "Logins one at a time: main-thread CPU per request step, from its arrival to the next request's (libuv's pool, where bcrypt hashes, left out):",
    '',
    stepsTable([
      ['Monban', monban],
      ...(monbanCheapHash ? [[cheapName, monbanCheapHash] as [string, LoginSteps]] : []),
      ['bare oidc-provider', bareProvider],
    ]),
    ...(monbanCheapHash
      ? [
          '',
          `Monban with bcrypt cost ${String(cheapBcryptCost)} runs the same code with bcrypt's cheapest hashes: its threads no longer share the cores with it, nor leave it idle (its caches cold) while each hash runs.`,
        ]
      : []),
  ];
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, col) => (col === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join('\n');
}

const atLeast = (what: string, value: number, goal: number): Goal => ({
  what,
  value,
  goal: `>= ${goal}`,
  met: value >= goal,
});
const atMost = (what: string, value: number, goal: number): Goal => ({
  what,
  value,
  goal: `<= ${goal}`,
  met: value <= goal,
});

/** Issue 16's goals, measured in this run. */
export function goals(results: BenchResults): Goal[] {
  const figure = (id: string) => results.protocol.find((f) => f.id === id);
  const list: Goal[] = [];
  const ratioGoals: [string, number][] = [
    ['client_credentials', 0.8],
    ['introspection', 0.8],
    ['refresh', 0.8],
    ['discovery', 0.9],
    ['jwks', 0.9],
  ];
  for (const [id, goal] of ratioGoals) {
    const f = figure(id);
    if (f) list.push(atLeast(`${id} ratio`, f.ratio, goal));
  }
  const introspection = figure('introspection');
  if (introspection) list.push(atMost('introspection p99 ms', introspection.monban.p99Ms, 20));
  const { logins } = results;
  list.push(atLeast('password logins / bcrypt ceiling', logins.ratio, 0.9));
  list.push(atMost('non-hash Monban CPU ms per login', logins.nonHashCpuMsPerLogin, 5));
  list.push(atMost('PostgreSQL CPU ms per login', logins.monban.pgCpuMsPerOp, 2));
  list.push(atMost('PostgreSQL statements per login', logins.monban.dbStatementsPerOp ?? NaN, 4));
  list.push(atMost('Redis commands per login', logins.monban.redisCommandsPerOp ?? NaN, 20));
  list.push(atMost('Redis bytes per live session', logins.redisBytesPerSession, 1536));
  if (results.embedded)
    list.push(atLeast('embedded client_credentials ratio', results.embedded.clientCredentials.ratio, 0.5));
  return list;
}

/**
 * The login ratio the machine's cores allow: the logins/s that the CPU all processes spend per
 * login (Monban, load generator, PostgreSQL, Redis) would give if every core did nothing else,
 * over the bcrypt ceiling. `monbanCpuMs` replaces Monban's share (to ask: what if it spent only
 * its bcrypt?).
 */
function ratioCoresAllow(results: BenchResults, monbanCpuMs = results.logins.monban.cpuMsPerOp): number {
  const { monban, bcryptCeiling } = results.logins;
  const perLogin = monbanCpuMs + monban.loadCpuMsPerOp + monban.pgCpuMsPerOp + monban.redisCpuMsPerOp;
  return (results.machine.cores * 1000) / perLogin / bcryptCeiling.rate;
}

export function report(results: BenchResults): string {
  const { machine, settings } = results;
  const lines = [
    '',
    `Monban benchmark, ${results.startedAt}`,
    `  node ${machine.node}, ${machine.cores} cores (${machine.cpu}), ${machine.platform}`,
    ...(machine.loopbackRoundTripCpuUs !== undefined
      ? [
          `  kernel ${machine.kernel ?? '?'}, Meltdown: ${machine.meltdown ?? '?'}, PCID ${machine.pcid === undefined ? '?' : machine.pcid ? 'yes' : 'no'}, clock ${machine.clocksource ?? '?'}; a loopback TCP round trip costs ${fixed(machine.loopbackRoundTripCpuUs, 1)} µs of CPU${machine.wakeUpRoundTripCpuUs === undefined ? '' : `, ${fixed(machine.wakeUpRoundTripCpuUs, 0)} µs to another process after ${WAKE_UP_IDLE_MS} ms idle`} (results compare only between machines alike in these)`,
        ]
      : []),
    `  load average (1/5/15 min) before: ${machine.loadAverageBefore.map((l) => l.toFixed(2)).join(' ')}, after: ${machine.loadAverageAfter.map((l) => l.toFixed(2)).join(' ')} (other work on the machine skews the figures)`,
    `  ${String(settings.rounds)} rounds of ${String(settings.seconds)} s per phase after ${String(settings.warmupSeconds)} s warm-up, Monban and baseline alternating; medians of the rounds`,
    ...(settings.loginWarmupSeconds
      ? [
          `  logins: ${Number(settings.loginWarmupSeconds)} s of each side's logins before the first round (V8's optimising tiers)`,
        ]
      : []),
    `  HTTP phases: ${String(settings.connections)} connections; logins: ${String(settings.loginWorkers)} cookie-jar browsers over ${String(settings.users)} users; bcrypt cost ${String(settings.bcryptCost)} (production default ${String(settings.productionBcryptCost)}), libuv pool ${String(settings.threadpool)}`,
    `  ${String(settings.rateLimits)}`,
    '',
    'Monban (PostgreSQL + Redis, one process) vs a bare oidc-provider in memory (same token format):',
    '',
    table([
      [
        'figure',
        'Monban /s',
        'baseline /s',
        'ratio',
        'p50/p99 ms Monban',
        'p50/p99 ms baseline',
        'CPU ms/req M',
        'CPU ms/req b',
        'PG CPU ms/req',
      ],
      ...results.protocol.map((f) => [
        f.name,
        fixed(f.monban.rate, 0),
        fixed(f.baseline.rate, 0),
        fixed(f.ratio, 2),
        `${fixed(f.monban.p50Ms, 1)} / ${fixed(f.monban.p99Ms, 1)}`,
        `${fixed(f.baseline.p50Ms, 1)} / ${fixed(f.baseline.p99Ms, 1)}`,
        fixed(f.monban.cpuMsPerOp, 3),
        fixed(f.baseline.cpuMsPerOp, 3),
        fixed(f.monban.pgCpuMsPerOp, 3),
      ]),
    ]),
    '',
  ];
  const { logins } = results;
  lines.push(
    'Full password logins (email, password, remembered consent, code exchange) vs the bcrypt ceiling (same run, same process):',
    '',
    table([
      ['figure', 'value'],
      ['logins/s', fixed(logins.monban.rate, 1)],
      ['bcrypt ceiling checks/s', fixed(logins.bcryptCeiling.rate, 1)],
      ['ratio', fixed(logins.ratio, 2)],
      ['login p50 / p99 ms', `${fixed(logins.monban.p50Ms, 0)} / ${fixed(logins.monban.p99Ms, 0)}`],
      ['Monban CPU ms per login (all)', fixed(logins.monban.cpuMsPerOp, 1)],
      ["  of which in libuv's pool, where bcrypt hashes", fixed(logins.monban.poolCpuMsPerOp ?? NaN, 1)],
      ['  of which outside it: CPU besides bcrypt', fixed(logins.nonHashCpuMsPerLogin, 1)],
      [
        "    of which the main thread / V8's helper threads (garbage collection, compilation)",
        `${fixed(logins.monban.mainThreadCpuMsPerOp ?? NaN, 1)} / ${fixed(
          logins.nonHashCpuMsPerLogin - (logins.monban.mainThreadCpuMsPerOp ?? NaN),
          1,
        )}`,
      ],
      ...(logins.monban.gcPausesMsPerOp !== undefined
        ? [['      of which garbage-collection pauses on the main thread', fixed(logins.monban.gcPausesMsPerOp, 2)]]
        : []),
      ...(logins.monban.mainThreadWakeUpsPerOp !== undefined
        ? [
            [
              "    the main thread's wake-ups per login (it slept, then was woken)",
              fixed(logins.monban.mainThreadWakeUpsPerOp, 1),
            ],
          ]
        : []),
      [
        "bcrypt ceiling: CPU ms per check (in libuv's pool)",
        `${fixed(logins.bcryptCpuMsPerCheck, 1)} (${fixed(logins.bcryptCeiling.poolCpuMsPerOp ?? NaN, 1)})`,
      ],
      ['CPU ms per login minus the ceiling per check', fixed(logins.cpuBesidesCeilingMsPerLogin ?? NaN, 1)],
      ...(logins.warmUp
        ? [
            [
              `  in the warm-up, the first ${logins.warmUp.seconds} s after start: besides bcrypt (main thread)`,
              `${fixed(logins.warmUp.nonHashCpuMsPerLogin, 1)} (${fixed(logins.warmUp.mainThreadCpuMsPerLogin, 1)})`,
            ],
          ]
        : []),
      ['PostgreSQL CPU ms per login', fixed(logins.monban.pgCpuMsPerOp, 2)],
      ['Redis server CPU ms per login', fixed(logins.monban.redisCpuMsPerOp, 2)],
      ['load generator CPU ms per login', fixed(logins.monban.loadCpuMsPerOp, 1)],
      ['ratio the cores allow (all CPU per login)', fixed(ratioCoresAllow(results), 2)],
      [
        'ratio the cores allow if Monban spent only its bcrypt',
        fixed(ratioCoresAllow(results, logins.bcryptCpuMsPerCheck), 2),
      ],
      [
        'bare oidc-provider logins/s, CPU ms per login (the library floor)',
        `${fixed(logins.bareProvider.rate, 0)}, ${fixed(logins.bareProvider.cpuMsPerOp, 2)}`,
      ],
      ['PostgreSQL statements per login', fixed(logins.monban.dbStatementsPerOp, 1)],
      [
        'Redis commands (round trips) per login',
        `${fixed(logins.monban.redisCommandsPerOp, 1)} (${fixed(logins.monban.redisRoundTripsPerOp, 1)})`,
      ],
      [
        'Redis bytes (keys) per live session',
        `${fixed(logins.redisBytesPerSession, 0)} (${fixed(logins.redisKeysPerSession, 1)})`,
      ],
      ...Object.entries(logins.redisBytesPerSessionByFamily ?? {})
        .sort(([, a], [, b]) => b.bytes - a.bytes)
        .map(([family, { keys, bytes }]) => [`  of which ${family}`, `${fixed(bytes, 0)} (${fixed(keys, 2)})`]),
      [
        'passkey logins/s (x password logins)',
        `${fixed(logins.passkey.rate, 1)} (x${fixed(logins.passkeyToPasswordRatio, 1)})`,
      ],
      ['passkey login p50 / p99 ms', `${fixed(logins.passkey.p50Ms, 0)} / ${fixed(logins.passkey.p99Ms, 0)}`],
      ['Monban CPU ms per passkey login', fixed(logins.passkey.cpuMsPerOp, 1)],
      ["  of which libuv's pool", fixed(logins.passkey.poolCpuMsPerOp ?? NaN, 2)],
      ['PostgreSQL statements per passkey login', fixed(logins.passkey.dbStatementsPerOp, 1)],
    ]),
    '',
  );
  if (logins.steps) lines.push(...stepsReport(logins.steps), '');
  if (results.embedded) {
    const { embedded } = results;
    const f = embedded.clientCredentials;
    lines.push(
      `Embedded default (PGlite on disk, no Redis): client_credentials ${fixed(f.monban.rate, 0)}/s vs baseline ${fixed(f.baseline.rate, 0)}/s = ${fixed(f.ratio, 2)}; p99 ${fixed(f.monban.p99Ms, 1)} ms; RSS ${mb(embedded.rssIdleBytes)} idle, ${mb(embedded.rssLoadedBytes)} after the phase (heap ${mb(embedded.heapUsedLoadedBytes)})`,
      `Monban on PostgreSQL + Redis after its phases: RSS ${mb(results.memory.monbanRssBytes)} (heap ${mb(results.memory.monbanHeapUsedBytes)})`,
      '',
    );
  }
  const one = results.scaling[0];
  lines.push(
    'Workers (WEB_CONCURRENCY, node:cluster) on PostgreSQL + Redis:',
    '',
    table([
      ['workers', 'client_credentials/s', 'x1', 'CPU ms/req', 'logins/s', 'x1', 'CPU ms/login'],
      ...results.scaling.map((s) => [
        String(s.workers),
        fixed(s.clientCredentials.rate, 0),
        fixed(s.clientCredentials.rate / (one?.clientCredentials.rate ?? NaN), 2),
        fixed(s.clientCredentials.cpuMsPerOp, 3),
        fixed(s.logins.rate, 1),
        fixed(s.logins.rate / (one?.logins.rate ?? NaN), 2),
        fixed(s.logins.cpuMsPerOp, 1),
      ]),
    ]),
    '',
  );
  results.goals = goals(results);
  lines.push(
    "Issue 16's goals:",
    '',
    table([
      ['goal', 'measured', 'target', ''],
      ...results.goals.map((g) => [g.what, fixed(g.value, 2), g.goal, g.met ? 'met' : 'MISSED']),
    ]),
  );
  if (results.errors.length > 0) lines.push('', 'Errors:', ...results.errors);
  return lines.join('\n');
}
