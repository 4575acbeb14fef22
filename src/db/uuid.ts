/** Whether `id` can be a uuid column's value: PostgreSQL refuses anything else with an error, not a miss. */
export const isUuid = (id: string): boolean =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
