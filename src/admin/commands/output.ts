import Table from 'cli-table3';
import type { Printer } from './commands.js';

/** How an answer is printed: a readable table on a terminal, JSON when piped (or with --json). */
export interface Output extends Printer {
  /** The command's whole answer. */
  answer(value: unknown): void;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(cell).join('\n');
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A list as rows under the command's columns; one object as field / value lines. */
export function renderTable(value: unknown, columns?: string[]): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '(none)';
    const head = columns ?? [...new Set(value.filter(isRecord).flatMap((row) => Object.keys(row)))];
    const table = new Table({ head, style: { head: [], border: [] } });
    for (const row of value) table.push(head.map((name) => cell(isRecord(row) ? row[name] : row)));
    return table.toString();
  }
  if (isRecord(value)) {
    const table = new Table({ style: { head: [], border: [] } });
    for (const [name, field] of Object.entries(value)) table.push({ [name]: cell(field) });
    return table.toString();
  }
  return cell(value);
}

export function output(stream: NodeJS.WriteStream, options: { json: boolean; columns?: string[] }): Output {
  const table = !options.json && stream.isTTY;
  const write = (text: string) => stream.write(`${text}\n`);
  return {
    answer: (value) => write(table ? renderTable(value, options.columns) : JSON.stringify(value, null, 2)),
    // A stream: a table row block per batch on a terminal, one JSON object per line otherwise.
    rows: (items) => {
      if (items.length === 0) return;
      if (table) write(renderTable(items, options.columns));
      else for (const item of items) write(JSON.stringify(item));
    },
  };
}
