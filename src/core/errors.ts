/**
 * One error family for everything Atrium answers itself. `expose` says whether the
 * description may be shown to the caller; unexpected errors never are.
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;
  readonly headers: Record<string, string>;
  /**
   * The description as a page shows it, translated (`locales/<lang>/errors.json`); API
   * callers get `description`, in English.
   */
  readonly messageKey: string | undefined;
  constructor(code: string, status: number, description: string, options: { headers?: Record<string, string>; cause?: unknown; messageKey?: string } = {}) {
    super(description, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.expose = status < 500 || status === 503;
    this.headers = options.headers ?? {};
    this.messageKey = options.messageKey;
  }
}

export const badRequest = (description: string, code = 'invalid_request') => new AppError(code, 400, description);
export const notFound = (description = 'not found') => new AppError('not_found', 404, description);
export const conflict = (description: string) => new AppError('conflict', 409, description);
export const unauthorized = (description = 'a valid access token is required') =>
  new AppError('invalid_token', 401, description, { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
export const forbidden = (description: string, code = 'insufficient_scope') => new AppError(code, 403, description);
export const unavailable = (description = 'the service is temporarily unavailable, try again shortly') =>
  new AppError('temporarily_unavailable', 503, description, { headers: { 'retry-after': '5' } });
