/**
 * Outgoing mail: `send(tenant, to, template, locals)`. A tenant's own SMTP server
 * (`integrations.smtp`, password sealed at rest) wins over the platform's (`SMTP_URL`,
 * `SMTP_FROM`); with neither, development writes the mail to the log and other
 * environments drop it with a warning (never its content: links in it are secrets).
 * Templates are branded and localized (mail/templates.ts, views/mail/).
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { AtriumConfig } from '../config/env.ts';
import { mergedSection, openTenantSecret } from '../tenancy/tenant-config.ts';
import type { EgressGuard } from '../core/egress-guard.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { issuerFor, type Tenant } from '../tenancy/tenant.ts';
import { renderMail, type MailTemplate } from './templates.ts';
import type { DependencyHealth } from '../core/dependency-health.ts';
import type { SmsAlerts } from '../sms/sms-alerts.ts';
import type { SecurityAlert } from './security-alerts.ts';

export type { MailTemplate } from './templates.ts';

export interface MailOptions {
  /** The language to write in (the page's, when a page asked for the mail); else the tenant's default. */
  lang?: string;
}

interface SmtpSettings { host?: string; port?: number; user?: string; from?: string; secure?: boolean }

const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 };

export class MailService {
  readonly #config: AtriumConfig;
  readonly #box: SecretBox;
  readonly #log: Logger;
  readonly #health: DependencyHealth | undefined;
  readonly #egress: EgressGuard;
  readonly #textAlerts: SmsAlerts | undefined;
  #platformTransport: Transporter | undefined;

  constructor(deps: { config: AtriumConfig; box: SecretBox; log: Logger; egress: EgressGuard; health?: DependencyHealth; textAlerts?: SmsAlerts }) {
    this.#config = deps.config;
    this.#textAlerts = deps.textAlerts;
    this.#egress = deps.egress;
    this.#box = deps.box;
    this.#log = deps.log;
    this.#health = deps.health;
  }

  /** Renders and sends one mail; rejects when the SMTP server refuses it. */
  async send(tenant: Tenant, to: string, template: MailTemplate, locals: Record<string, unknown> = {}, options: MailOptions = {}): Promise<void> {
    const mail = await renderMail(tenant, template, locals, options.lang);
    const route = this.#route(tenant);
    const fromName = (mergedSection(tenant, 'notifications').email as { from_name?: string } | undefined)?.from_name ?? mail.brandName;
    if (!route) {
      if (this.#config.env === 'development') {
        this.#log.info({ mail: { tenant: tenant.slug, to, subject: mail.subject, text: mail.text } }, 'mail not sent (no SMTP configured); its text is logged in development');
      } else {
        this.#log.warn({ tenant: tenant.slug, template }, 'mail not sent: neither the tenant nor the platform has SMTP settings');
      }
      return;
    }
    try {
      await route.transport.sendMail({ from: { name: fromName, address: route.from }, to, subject: mail.subject, text: mail.text, html: mail.html });
    } catch (err) {
      this.#health?.errorSurvived('smtp', err);
      throw err;
    }
    this.#health?.smtpSucceeded();
    this.#log.debug({ tenant: tenant.slug, template }, 'mail sent');
  }

  /** Sends without making the caller wait (a page must answer the same whether or not a mail goes out); failures are logged. */
  sendLater(tenant: Tenant, to: string, template: MailTemplate, locals: Record<string, unknown> = {}, options: MailOptions = {}): void {
    this.send(tenant, to, template, locals, options).catch((err: unknown) => {
      this.#log.error({ err, tenant: tenant.slug, template }, 'could not send mail');
    });
  }

  /**
   * The text-message side of a security alert (sms/sms-alerts.ts): to the user's verified
   * phone, when the tenant has SMS on and wants this alert. In the background, never failing.
   */
  textAlert(tenant: Tenant, email: string, kind: SecurityAlert): void {
    const alerts = mergedSection(tenant, 'notifications').security_alerts as Partial<Record<SecurityAlert, boolean>> | undefined;
    if (alerts?.[kind] === false) return;
    void this.#textAlerts?.alert(tenant, email, kind);
  }

  #route(tenant: Tenant): { transport: Transporter; from: string } | undefined {
    const smtp = ((mergedSection(tenant, 'integrations').smtp ?? {}) as SmtpSettings);
    const fallbackFrom = this.#config.smtp.from ?? `no-reply@${new URL(issuerFor(tenant, this.#config)).hostname}`;
    if (smtp.host) {
      // Built per mail: tenant settings change at any time, and mail is rare next to sign-ins.
      const port = smtp.port ?? (smtp.secure ? 465 : 587);
      const password = smtp.user ? openTenantSecret(this.#box, tenant, 'integrations.smtp.password') : undefined;
      const transport = this.#guarded(nodemailer.createTransport({
        host: smtp.host,
        port,
        secure: smtp.secure ?? port === 465,
        auth: smtp.user ? { user: smtp.user, pass: password ?? '' } : undefined,
        ...TIMEOUTS,
        // A tenant chooses this host and port: the socket is opened by the egress guard, so it
        // cannot be Redis, PostgreSQL or anything else inside the deployment.
        getSocket: this.#egress.smtpSocket,
      } as Parameters<typeof nodemailer.createTransport>[0]));
      return { transport, from: smtp.from ?? fallbackFrom };
    }
    if (this.#config.smtp.url) {
      this.#platformTransport ??= this.#guarded(nodemailer.createTransport({ url: this.#config.smtp.url, ...TIMEOUTS, getSocket: this.#egress.smtpSocket } as Parameters<typeof nodemailer.createTransport>[0]));
      return { transport: this.#platformTransport, from: fallbackFrom };
    }
    return undefined;
  }

  /** A transport may emit 'error' (a pooled connection dying); without a listener that ends the process. */
  #guarded(transport: Transporter): Transporter {
    transport.on('error', (err: Error) => this.#health?.errorSurvived('smtp', err));
    return transport;
  }

  close(): void {
    this.#platformTransport?.close();
  }
}
