/**
 * The master key: ENCRYPTION_KEY, or in development a key generated once into DATA_DIR
 * (with a warning, since losing that file loses every secret sealed under it).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AtriumConfig } from '../config/env.ts';
import { SecretBox } from './secret-box.ts';

export function loadSecretBox(config: AtriumConfig, log: Logger): SecretBox {
  if (config.encryptionKey) return new SecretBox(config.encryptionKey, config.retiredEncryptionKeys);
  if (config.env === 'production') throw new Error('ENCRYPTION_KEY is required in production');
  const file = path.resolve(config.dataDir, 'encryption.key');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  }
  log.warn({ file }, 'ENCRYPTION_KEY is not set: using a generated development key; set ENCRYPTION_KEY outside development');
  return new SecretBox(readFileSync(file, 'utf8').trim(), config.retiredEncryptionKeys);
}
