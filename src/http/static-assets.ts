/**
 * Serves the few files under public/ at /assets/*, read once and cached in memory, and
 * Atrium's icon at /favicon.ico on every host (browsers ask for it before any page names
 * an icon; a tenant's own icon is linked from its pages by branding.favicon).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Next } from 'koa';

const PUBLIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../public');
const TYPES: Record<string, string> = { '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon' };

export function staticAssets() {
  const files = new Map(readdirSync(PUBLIC_DIR).map((name) => [`/assets/${name}`, { body: readFileSync(path.join(PUBLIC_DIR, name)), type: TYPES[path.extname(name)] ?? 'application/octet-stream' }]));
  const icon = files.get('/assets/favicon.ico');
  if (icon) files.set('/favicon.ico', icon);
  return async function serveAsset(ctx: Context, next: Next): Promise<void> {
    const file = ctx.method === 'GET' || ctx.method === 'HEAD' ? files.get(ctx.path) : undefined;
    if (!file) return next();
    ctx.type = file.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = file.body;
  };
}
