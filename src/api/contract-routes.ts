/**
 * GET /api/v1/openapi.json and GET /api/v1/docs: the API's contract, generated from the
 * routes mounted on the same router (route-contract.ts), and its reference page. Public.
 * Built on first request, once every route is mounted, and kept: the routes do not change
 * while the process runs.
 */
import { z } from 'zod';
import type { AtriumConfig } from '../config/env.ts';
import { apiDocsPage } from './api-docs-page.ts';
import { openApiDocument } from './openapi-document.ts';
import { defineRoute, type ApiRoutes } from './route-contract.ts';

export const API_VERSION = '1.0.0';

const tag = 'Contract';

export const getOpenApi = defineRoute({
  method: 'get', path: '/openapi.json', operationId: 'getOpenApiDocument', tag, summary: 'This document (OpenAPI 3.1)',
  scope: null,
  responses: { 200: { description: 'The OpenAPI document.', schema: z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) }) } },
});
export const getDocs = defineRoute({
  method: 'get', path: '/docs', operationId: 'getApiReference', tag, summary: 'This document as a readable HTML page',
  scope: null,
  responses: { 200: { description: 'The reference page.', mediaType: 'text/html' } },
});

export function mountContractRoutes(api: ApiRoutes, deps: { config: Pick<AtriumConfig, 'publicUrl'> }): void {
  let document: Record<string, unknown> | undefined;
  let page: string | undefined;
  const built = () => (document ??= openApiDocument(api.specs, { config: deps.config, version: API_VERSION }));

  api.add(getOpenApi, [], async function serveOpenApi(ctx) {
    ctx.body = built();
  });
  api.add(getDocs, [], async function serveApiDocs(ctx) {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = page ??= apiDocsPage(built());
  });
}
