/**
 * Checks management API answers against the OpenAPI document the server publishes
 * (/api/v1/openapi.json): the operation is found by method and path, its response by status
 * (an error status not listed falls to `default`), and the body is validated with Ajv's
 * JSON Schema 2020-12 dialect, the one OpenAPI 3.1 uses. The shared `api()` helper
 * (atrium.ts) runs every answer through it, so each API test is also a contract test.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import * as addFormatsModule from 'ajv-formats';
import { httpFetch } from './http-client.ts';

// ajv-formats is CommonJS: under Node's interop `default` is module.exports, whose own
// `default` is the plugin again, which is the one TypeScript's types know.
const addFormats = addFormatsModule.default.default;

type Json = Record<string, unknown>;
interface Operation {
  template: string;
  method: string;
  pattern: RegExp;
  params: number;
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

const DOCUMENT_ID = 'https://atrium.invalid/openapi.json';
const pointer = (...segments: string[]) => segments.map((s) => encodeURIComponent(s.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/');

export class ApiContract {
  readonly document: Json;
  readonly #operations: Operation[] = [];
  readonly #ajv: Ajv2020;
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(document: Json) {
    this.document = document;
    this.#ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.#ajv);
    this.#ajv.addSchema({ ...document, $id: DOCUMENT_ID });
    for (const [template, methods] of Object.entries(document.paths as Record<string, Record<string, Json>>)) {
      for (const [method, op] of Object.entries(methods)) {
        const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
        this.#operations.push({ template, method, pattern: new RegExp(`^${source}$`), params: (template.match(/\{/g) ?? []).length, responses: op.responses as Operation['responses'] });
      }
    }
  }

  static async load(baseUrl: string): Promise<ApiContract> {
    const res = await httpFetch(`${baseUrl}/api/v1/openapi.json`);
    if (res.status !== 200) throw new Error(`GET /api/v1/openapi.json answered ${res.status}`);
    return new ApiContract((await res.json()) as Json);
  }

  /** The documented operation for a call: of the templates that match, the most literal (the router's order agrees). */
  operation(method: string, path: string): Operation | undefined {
    const bare = path.split('?')[0]!;
    return this.#operations
      .filter((o) => o.method === method.toLowerCase() && o.pattern.test(bare))
      .sort((a, b) => a.params - b.params)[0];
  }

  /** What is wrong with an answer by the contract, or undefined when it conforms. */
  problem(method: string, path: string, status: number, contentType: string | null, body: unknown): string | undefined {
    if (method.toUpperCase() === 'HEAD' || method.toUpperCase() === 'OPTIONS') return undefined;
    const op = this.operation(method, path);
    const where = `${method.toUpperCase()} ${path} → ${status}`;
    if (!op) {
      // A call to a route that does not exist: it still answers in the error shape.
      return status >= 400 ? this.#check('Error', ['components', 'schemas', 'Error'], body, where) : `${where}: no such operation in the document`;
    }
    const key = op.responses[String(status)] ? String(status) : status >= 400 && op.responses.default ? 'default' : undefined;
    if (!key) return `${where}: status ${status} is not documented for ${op.method.toUpperCase()} ${op.template}`;
    const content = op.responses[key]!.content;
    if (!content) return body === undefined || body === '' ? undefined : `${where}: documented without a body, answered ${JSON.stringify(body).slice(0, 200)}`;
    const [mediaType, media] = Object.entries(content)[0]!;
    if (!contentType?.startsWith(mediaType)) return `${where}: content type ${contentType} is not the documented ${mediaType}`;
    if (mediaType !== 'application/json' || !media.schema) return undefined;
    return this.#check(`${op.method} ${op.template} ${key}`, ['paths', op.template, op.method, 'responses', key, 'content', mediaType, 'schema'], body, where);
  }

  #check(cacheKey: string, path: string[], body: unknown, where: string): string | undefined {
    let validate = this.#validators.get(cacheKey);
    if (!validate) {
      validate = this.#ajv.compile({ $ref: `${DOCUMENT_ID}#/${pointer(...path)}` });
      this.#validators.set(cacheKey, validate);
    }
    if (validate(body)) return undefined;
    const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    return `${where}: the body does not match the documented schema: ${errors.join('; ')}; body: ${JSON.stringify(body).slice(0, 600)}`;
  }
}
