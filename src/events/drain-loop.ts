/**
 * Background work that drains a queue (the outbox, a bulk rename): one drain at a time; a kick
 * while one runs runs it again right after; otherwise the next drain comes after `nextWaitMs()`
 * (a slow safety poll, or a retry falling due). `drain` handles its own errors.
 */
export class DrainLoop {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  /** A drain is due in the next turn of the event loop. */
  #due = false;
  #stopped = false;

  constructor(
    private readonly drain: () => Promise<void>,
    private readonly nextWaitMs: () => number,
  ) {}

  get stopped(): boolean {
    return this.#stopped;
  }

  start(): void {
    this.#stopped = false;
    this.kick();
  }

  /** Stops scheduling and waits for a drain under way to end. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  /** Drain soon: in the next turn of the event loop, or right after the drain under way. */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#due = true;
    this.#timer = setTimeout(() => this.#run(), 0);
  }

  /** Resolves once no drain runs or is due: nothing more happens until the next kick or poll. */
  async settled(): Promise<void> {
    while (this.#running || this.#due) await (this.#running ?? new Promise((r) => setTimeout(r, 1)));
  }

  #run(): void {
    this.#due = false;
    if (this.#stopped || this.#running) return;
    this.#running = this.drain().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.kick();
      } else if (!this.#stopped) {
        this.#timer = setTimeout(() => this.kick(), this.nextWaitMs());
        this.#timer.unref();
      }
    });
  }
}
