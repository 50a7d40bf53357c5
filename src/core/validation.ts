/** Input validation for the API: zod schemas, and a 400 that names every bad field. */
import { z } from 'zod';
import { badRequest } from './errors.ts';

export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
    throw badRequest(problems.join('; '));
  }
  return result.data;
}

export const pagingSchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  search: z.string().max(200).optional(),
});

/** Query strings arrive as strings or arrays; keep the first value of each. */
export function queryObject(query: Record<string, string | string[] | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(query).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v[0] ?? '' : v]])));
}
