import { performance } from 'node:perf_hooks';

/**
 * The rate of a closed loop of clients (each starts its next operation when the last ends), counted
 * in its steady state: operations that end between the moment every client has ended one and the
 * deadline. Counted from the start instead, the window would hold the ramp (every client at the
 * beginning of its first operation) and none of the work in flight at its end; counted up to the
 * end of the drain (the operations started before the deadline finishing), it would hold a tail
 * where fewer and fewer clients keep the cores busy. A login is half a second of eight browsers:
 * either way about 5 % of a 5-s window, which the bcrypt ceiling's uniform checks do not lose.
 */
export class SteadyRate {
  readonly #endedOnce = new Set<number>();
  #since: number | undefined;
  #ended = 0;

  constructor(
    private readonly clients: number,
    private readonly deadline: number,
  ) {}

  /** Client `client` has ended an operation (done or failed). */
  ended(client: number, at = performance.now()): void {
    if (this.#since === undefined) {
      this.#endedOnce.add(client);
      if (this.#endedOnce.size === this.clients) this.#since = at;
    } else if (at <= this.deadline) {
      this.#ended += 1;
    }
  }

  /** Operations per second in the steady window; `fallback` when the phase was too short to have one. */
  rate(fallback: number): number {
    if (this.#since === undefined || this.deadline - this.#since < 100) return fallback;
    return this.#ended / ((this.deadline - this.#since) / 1000);
  }
}
