/**
 * The sealed envelope of a tenant bundle: a small clear header, then the whole serialized
 * bundle encrypted under a key derived from a transfer passphrase (never a deployment's
 * ENCRYPTION_KEY, so a bundle opens anywhere the passphrase is known and nowhere else).
 *
 *   "ATRIUMTB" | uint32 header length | header (JSON, UTF-8) | ciphertext | 16-byte GCM tag
 *
 * The header carries the format version, the KDF and its parameters, the salt and the IV,
 * and is the GCM additional data: changing any of it (a lower cost, another salt) makes
 * the bundle fail to open, like any change to the ciphertext. scrypt and AES-256-GCM from
 * node:crypto: both are in Node itself (no native add-on to build), scrypt is memory-hard,
 * and GCM authenticates the whole bundle, so a truncated or altered file is refused whole.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCallback, type ScryptOptions } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';

export const TRANSFER_FORMAT = 'atrium-tenant-bundle';
export const TRANSFER_FORMAT_VERSION = 1;
const MAGIC = Buffer.from('ATRIUMTB');
const TAG_BYTES = 16;
const MAX_HEADER_BYTES = 4096;
/** scrypt cost: N = 2^17, r = 8 (128 MiB, a few hundred ms), the OWASP recommendation for scrypt. */
const DEFAULT_KDF = { name: 'scrypt', log2N: 17, r: 8, p: 1 } as const;
/** What a header may ask for: enough for stronger settings, not enough to exhaust memory. */
const MAX_LOG2N = 20;
const MAX_R = 16;
const MAX_P = 4;
export const MIN_PASSPHRASE_LENGTH = 12;

export type TransferErrorCode = 'invalid_bundle' | 'unsupported_bundle_version' | 'bundle_not_opened';

/** A bundle that cannot be opened; the message says why in words an operator can act on. */
export class TransferBundleError extends Error {
  readonly code: TransferErrorCode;
  constructor(code: TransferErrorCode, message: string) {
    super(message);
    this.name = 'TransferBundleError';
    this.code = code;
  }
}

interface Header {
  format: string;
  version: number;
  kdf: { name: 'scrypt'; log2N: number; r: number; p: number; salt: string };
  cipher: 'aes-256-gcm';
  iv: string;
  compression: 'gzip';
}

function deriveKey(passphrase: string, kdf: Header['kdf']): Promise<Buffer> {
  const N = 2 ** kdf.log2N;
  const options: ScryptOptions = { N, r: kdf.r, p: kdf.p, maxmem: 256 * N * kdf.r };
  return new Promise((resolve, reject) =>
    scryptCallback(passphrase.normalize('NFC'), Buffer.from(kdf.salt, 'base64url'), 32, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export function checkPassphrase(passphrase: string): void {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) throw new TransferBundleError('invalid_bundle', `the transfer passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`);
}

/** Serializes, compresses and seals a bundle under the passphrase. */
export async function sealBundle(payload: unknown, passphrase: string): Promise<Buffer> {
  checkPassphrase(passphrase);
  const header: Header = {
    format: TRANSFER_FORMAT,
    version: TRANSFER_FORMAT_VERSION,
    kdf: { ...DEFAULT_KDF, salt: randomBytes(16).toString('base64url') },
    cipher: 'aes-256-gcm',
    iv: randomBytes(12).toString('base64url'),
    compression: 'gzip',
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(headerBytes.length);
  const key = await deriveKey(passphrase, header.kdf);
  const cipher = createCipheriv('aes-256-gcm', key, Buffer.from(header.iv, 'base64url'));
  cipher.setAAD(Buffer.concat([MAGIC, length, headerBytes]));
  const body = Buffer.concat([cipher.update(gzipSync(Buffer.from(JSON.stringify(payload), 'utf8'))), cipher.final()]);
  return Buffer.concat([MAGIC, length, headerBytes, body, cipher.getAuthTag()]);
}

/** The clear header, checked: a bundle of another format or a newer version is refused before any work. */
function readHeader(bundle: Buffer): { header: Header; headerEnd: number } {
  if (bundle.length < MAGIC.length + 4 || !bundle.subarray(0, MAGIC.length).equals(MAGIC)) throw new TransferBundleError('invalid_bundle', 'this is not an Atrium tenant bundle');
  const headerLength = bundle.readUInt32BE(MAGIC.length);
  const headerEnd = MAGIC.length + 4 + headerLength;
  if (headerLength > MAX_HEADER_BYTES || bundle.length < headerEnd + TAG_BYTES) throw new TransferBundleError('invalid_bundle', 'the bundle is truncated or damaged');
  let header: Header;
  try {
    header = JSON.parse(bundle.subarray(MAGIC.length + 4, headerEnd).toString('utf8')) as Header;
  } catch {
    throw new TransferBundleError('invalid_bundle', 'the bundle header is damaged');
  }
  if (header?.format !== TRANSFER_FORMAT) throw new TransferBundleError('invalid_bundle', 'this is not an Atrium tenant bundle');
  if (!Number.isInteger(header.version) || header.version < 1) throw new TransferBundleError('invalid_bundle', 'the bundle header is damaged');
  if (header.version > TRANSFER_FORMAT_VERSION) {
    throw new TransferBundleError('unsupported_bundle_version', `the bundle has format version ${header.version}; this Atrium reads up to version ${TRANSFER_FORMAT_VERSION}: upgrade the target deployment first`);
  }
  const { kdf } = header;
  const sane = kdf?.name === 'scrypt' && Number.isInteger(kdf.log2N) && kdf.log2N >= 14 && kdf.log2N <= MAX_LOG2N && Number.isInteger(kdf.r) && kdf.r >= 1 && kdf.r <= MAX_R
    && Number.isInteger(kdf.p) && kdf.p >= 1 && kdf.p <= MAX_P && typeof kdf.salt === 'string' && header.cipher === 'aes-256-gcm' && typeof header.iv === 'string' && header.compression === 'gzip';
  if (!sane) throw new TransferBundleError('invalid_bundle', 'the bundle header names a KDF, cipher or parameters this Atrium does not accept');
  return { header, headerEnd };
}

/** Opens a bundle: wrong passphrase and any altered or missing byte alike fail here, as one error. */
export async function openBundle(bundle: Buffer, passphrase: string): Promise<unknown> {
  const { header, headerEnd } = readHeader(bundle);
  const key = await deriveKey(passphrase, header.kdf);
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(header.iv, 'base64url'));
    decipher.setAAD(bundle.subarray(0, headerEnd));
    decipher.setAuthTag(bundle.subarray(bundle.length - TAG_BYTES));
    plain = Buffer.concat([decipher.update(bundle.subarray(headerEnd, bundle.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new TransferBundleError('bundle_not_opened', 'the bundle could not be opened: the passphrase is wrong, or the file was altered or truncated');
  }
  try {
    return JSON.parse(gunzipSync(plain, { maxOutputLength: 2 ** 30 }).toString('utf8'));
  } catch {
    throw new TransferBundleError('invalid_bundle', 'the bundle opened but its content is not a bundle');
  }
}
