/** The root pino logger; secrets and tokens are redacted wherever they appear. */
import { pino, type Logger } from 'pino';

export const REDACTED_PATHS = [
  'password', '*.password', 'client_secret', '*.client_secret', 'secret', '*.secret',
  'access_token', '*.access_token', 'refresh_token', '*.refresh_token', 'id_token', '*.id_token',
  'authorization', '*.authorization', 'cookie', '*.cookie', 'headers.authorization', 'headers.cookie',
  'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'atrium' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, destination);
}
