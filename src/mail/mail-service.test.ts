/** Without any SMTP settings, development writes the mail to the log and other environments send nothing and say so. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig } from '../config/env.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { MailService } from './mail-service.ts';
import { DnsResolver } from '../core/dns-resolver.ts';
import { EgressGuard } from '../core/egress-guard.ts';
import { BUILT_IN_POLICY } from '../config/platform-policy.ts';

const guardFor = (config: ReturnType<typeof loadConfig>, log: ConstructorParameters<typeof EgressGuard>[2]) => new EgressGuard(config, new DnsResolver(config), log);

const tenant: Tenant = {
  id: '00000000-0000-4000-8000-000000000001', slug: 'acme', name: 'Acme', status: 'active', version: 1, policy: BUILT_IN_POLICY,
  config: { application: { default_locale: 'fr' } }, domains: [], primaryDomain: undefined, createdAt: new Date(), updatedAt: new Date(),
};

function capture() {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString())); done(); } });
  return { lines, log: pino({ level: 'debug' }, stream) };
}

describe('mail without SMTP', () => {
  it('development logs the rendered mail, in the tenant\'s language', async () => {
    const { lines, log } = capture();
    const mail = new MailService({ config: loadConfig({ ATRIUM_ENV: 'development' }), box: {} as SecretBox, log, egress: guardFor(loadConfig({ ATRIUM_ENV: 'development' }), log) });
    await mail.send(tenant, 'a@acme.test', 'password-reset', { link: 'http://acme.localhost:3000/password/reset?token=x', minutes: 30 });
    const entry = lines.find((l) => l.mail);
    assert.ok(entry, 'a log line with the mail');
    assert.equal(entry.mail.to, 'a@acme.test');
    assert.match(entry.mail.subject, /Réinitialisez votre mot de passe Acme/);
    assert.match(entry.mail.text, /password\/reset\?token=x/);
  });

  it('elsewhere sends nothing and logs a warning without the content', async () => {
    const { lines, log } = capture();
    const config = loadConfig({ ATRIUM_ENV: 'staging', PUBLIC_URL: 'https://auth.example.com', ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') });
    const mail = new MailService({ config, box: {} as SecretBox, log, egress: guardFor(config, log) });
    await mail.send(tenant, 'a@acme.test', 'verify-email', { link: 'https://acme.auth.example.com/signup/verify?token=secret' });
    assert.ok(lines.some((l) => l.level === 40 && /mail not sent/.test(l.msg)));
    assert.ok(!JSON.stringify(lines).includes('token=secret'), 'the link is a secret: never logged outside development');
  });

  it('renders every template in text and HTML with the brand', async () => {
    const { renderMail, MAIL_TEMPLATES } = await import('./templates.ts');
    for (const name of MAIL_TEMPLATES) {
      const m = await renderMail({ ...tenant, config: { branding: { company_name: 'Acme Corp', colors: { light: { primary: '#ff0000' } } } } }, name, { link: 'https://x.test/l', change: 'totp_enrolled' }, 'en');
      assert.ok(m.subject.includes('Acme Corp'), `${name}: ${m.subject}`);
      assert.ok(m.text.length > 20 && m.html.includes('Acme Corp'), name);
      assert.ok(!m.subject.includes('mail.'), `${name}: untranslated subject`);
    }
  });
});
