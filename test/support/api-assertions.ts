/** The error contract of every JSON answer: status, error, error_description, correlation id. */
import assert from 'node:assert/strict';
import type { TestAtrium } from './atrium.ts';

export type ApiResponse = Awaited<ReturnType<TestAtrium['api']>>;

export function assertApiError(res: ApiResponse, status: number, error?: string, description?: RegExp): void {
  const seen = `${res.status} ${JSON.stringify(res.body)}`;
  assert.equal(res.status, status, seen);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, seen);
  assert.equal(typeof res.body?.error, 'string', seen);
  if (error) assert.equal(res.body.error, error, seen);
  assert.equal(typeof res.body.error_description, 'string', seen);
  assert.ok(res.body.error_description.length > 0, seen);
  if (description) assert.match(res.body.error_description, description, seen);
  const header = res.headers.get('x-correlation-id');
  assert.ok(header, 'an X-Correlation-ID header');
  assert.equal(res.body.correlation_id, header, 'correlation_id equals the X-Correlation-ID header');
}
