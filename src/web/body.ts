/** Reads a JSON or form body with a size limit; bad input is a 400 or 413, never a 500. */
import type { Context } from 'koa';
import { AppError, badRequest } from '../core/errors.ts';

const LIMIT_BYTES = 100 * 1024;

async function readRaw(ctx: Context, limit = LIMIT_BYTES): Promise<string> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) throw new AppError('request_too_large', 413, `the body exceeds ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new AppError('request_too_large', 413, `the body exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `limitBytes`: for the one route that takes more than 100 KiB (a tenant bundle). */
export async function readJson(ctx: Context, options: { limitBytes?: number } = {}): Promise<unknown> {
  if (!ctx.is('application/json', '+json')) throw new AppError('invalid_request', 415, 'the body must be application/json');
  const raw = await readRaw(ctx, options.limitBytes);
  try {
    return JSON.parse(raw);
  } catch {
    throw badRequest('the body is not valid JSON');
  }
}

export async function readForm(ctx: Context): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw badRequest('the form must be application/x-www-form-urlencoded');
  return new URLSearchParams(await readRaw(ctx));
}
