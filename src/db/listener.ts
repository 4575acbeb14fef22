import pg from 'pg';

/** `payload` is undefined after a reconnection: notifications may have been missed meanwhile. */
export type NotificationHandler = (payload: string | undefined) => void;

const RETRY_MS = [250, 1000, 5000];

/**
 * PostgreSQL LISTEN on a connection of its own (a pooled one would drop it), reconnecting after
 * the server or the network drops it. NOTIFY is delivered only to sessions listening when it
 * commits, so after every reconnection the handlers are told they may have missed something.
 * (pg-listen does the same but has not been maintained since 2020; this is its small core.)
 */
export class PgListener {
  readonly #handlers = new Map<string, Set<NotificationHandler>>();
  #client: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #closed = false;
  #attempt = 0;

  constructor(
    private readonly connectionString: string,
    private readonly onError: (err: unknown) => void,
  ) {}

  async listen(channel: string, handler: NotificationHandler): Promise<void> {
    let handlers = this.#handlers.get(channel);
    if (!handlers) {
      handlers = new Set();
      this.#handlers.set(channel, handlers);
      if (this.#client) await this.#client.query(`listen ${pg.escapeIdentifier(channel)}`);
    }
    handlers.add(handler);
    await (this.#connecting ??= this.#connect(false));
  }

  async #connect(reconnected: boolean): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString });
    client.on('notification', (message) => {
      for (const handler of this.#handlers.get(message.channel) ?? []) handler(message.payload ?? '');
    });
    client.on('error', (err) => {
      this.onError(err);
      this.#reconnect(client);
    });
    client.on('end', () => this.#reconnect(client));
    await client.connect();
    for (const channel of this.#handlers.keys()) await client.query(`listen ${pg.escapeIdentifier(channel)}`);
    // Closed meanwhile: close() found no client to end, so this one must not stay open.
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    this.#attempt = 0;
    if (reconnected) for (const handlers of this.#handlers.values()) for (const handler of handlers) handler(undefined);
  }

  #reconnect(client: pg.Client): void {
    if (this.#closed || this.#client !== client) return;
    this.#client = undefined;
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    const delay = RETRY_MS[Math.min(this.#attempt, RETRY_MS.length - 1)] ?? 5000;
    this.#attempt += 1;
    setTimeout(() => {
      if (this.#closed) return;
      this.#connecting = this.#connect(true).catch((err: unknown) => {
        this.onError(err);
        this.#client = client; // so that #reconnect retries
        this.#reconnect(client);
      });
    }, delay).unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }
}
