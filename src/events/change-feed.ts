import { sql } from 'kysely';
import type { DatabaseHandle } from '../db/database.js';

/** What processes tell each other changed (so that they drop what they cached of it). */
/** clients: a client's id; access: an account whose sessions or grants were ended. */
export type ChangeTopic = 'clients' | 'access';

/** `id` is undefined when the feed may have missed changes (after a reconnection): drop everything. */
export type ChangeHandler = (id: string | undefined) => void;

/**
 * Tells every Monban process, this one included, that something changed, over PostgreSQL
 * LISTEN/NOTIFY (PGlite: within this process). The database is the one thing every process
 * shares, the admin CLI included (an operator may run it without REDIS_URL), so a change made
 * anywhere reaches every server. A message can be lost while a subscriber reconnects;
 * subscribers are then told to drop all.
 */
export interface ChangeFeed {
  publish(topic: ChangeTopic, id: string): Promise<void>;
  subscribe(topic: ChangeTopic, handler: ChangeHandler): Promise<void>;
  close(): Promise<void>;
}

export class DatabaseChangeFeed implements ChangeFeed {
  /**
   * This process's own subscribers. Its NOTIFY reaches them too, but only after the publisher
   * has answered: told at once as well, the process that made a change (the admin API's) never
   * serves what it just changed from its cache. Other processes get it within milliseconds.
   */
  readonly #local = new Map<ChangeTopic, ChangeHandler[]>();

  constructor(private readonly database: DatabaseHandle) {}

  async publish(topic: ChangeTopic, id: string): Promise<void> {
    await sql`select pg_notify(${`monban_changes_${topic}`}, ${id})`.execute(this.database.db);
    for (const handler of this.#local.get(topic) ?? []) handler(id);
  }

  subscribe(topic: ChangeTopic, handler: ChangeHandler): Promise<void> {
    this.#local.set(topic, [...(this.#local.get(topic) ?? []), handler]);
    return this.database.listen(`monban_changes_${topic}`, handler);
  }

  close(): Promise<void> {
    return Promise.resolve(); // the database's listener closes with the database
  }
}
