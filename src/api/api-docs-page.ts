/**
 * GET /api/v1/docs: the OpenAPI document as one plain HTML page (operations, parameters,
 * scopes, request and response schemas), rendered on the server from the same document
 * /api/v1/openapi.json serves. No script: the pages' CSP allows only our own, and a
 * reference page needs none.
 */

type Json = Record<string, unknown>;

const escape = (value: unknown) =>
  String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Backticks in descriptions as <code>, the rest escaped. */
const prose = (text: unknown) => escape(text ?? '').replace(/`([^`]+)`/g, '<code>$1</code>');

const schemaBlock = (schema: unknown) => `<pre class="schema">${escape(JSON.stringify(schema, null, 2))}</pre>`;

function operationHtml(path: string, method: string, op: Json): string {
  const parameters = (op.parameters as Json[] | undefined) ?? [];
  const scopes = op['x-atrium-scopes'] as { platform: string | null; tenant: string | null };
  const body = (op.requestBody as { content: Record<string, { schema: unknown }> } | undefined)?.content['application/json']?.schema;
  const responses = Object.entries(op.responses as Record<string, { description: string; content?: Record<string, { schema: unknown }> }>);
  const anchor = escape(op.operationId);
  return `<section class="operation" id="${anchor}">
<h3><span class="method ${escape(method)}">${escape(method.toUpperCase())}</span> <code>/api/v1${escape(path)}</code> <a href="#${anchor}">${anchor}</a></h3>
<p><strong>${escape(op.summary)}</strong></p>
<p>${prose(op.description).replaceAll('\n\n', '</p><p>')}</p>
<p class="scopes">Scopes: ${scopes.platform ? `<code>${escape(scopes.platform)}</code> (platform token)` : 'none (public)'}${scopes.tenant ? `, <code>${escape(scopes.tenant)}</code> (the tenant's own token)` : ''}</p>
${parameters.length ? `<h4>Parameters</h4><table><thead><tr><th>Name</th><th>In</th><th>Required</th><th>Schema</th></tr></thead><tbody>${parameters
    .map((p) => `<tr><td><code>${escape(p.name)}</code></td><td>${escape(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td><td><code>${escape(JSON.stringify(p.schema))}</code></td></tr>`)
    .join('')}</tbody></table>` : ''}
${body ? `<h4>Request body (application/json)</h4>${schemaBlock(body)}` : ''}
<h4>Responses</h4>
${responses
    .map(([status, r]) => {
      const [type, media] = Object.entries(r.content ?? {})[0] ?? [];
      const ref = (media?.schema as { $ref?: string } | undefined)?.$ref;
      const shown = ref ? `<p>${escape(type)}: <a href="#schema-${escape(ref.split('/').pop())}">${escape(ref.split('/').pop())}</a></p>` : media ? `<p>${escape(type)}</p>${schemaBlock(media.schema)}` : '';
      return `<div class="response"><p><strong>${escape(status)}</strong> ${escape(r.description)}</p>${shown}</div>`;
    })
    .join('\n')}
</section>`;
}

export function apiDocsPage(document: Json): string {
  const info = document.info as { title: string; description: string; version: string };
  const paths = document.paths as Record<string, Record<string, Json>>;
  const components = document.components as { schemas: Record<string, unknown>; securitySchemes: Record<string, Json> };
  const operations = Object.entries(paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
  const byTag = new Map<string, typeof operations>();
  for (const o of operations) {
    const tag = (o.op.tags as string[])[0] ?? 'Other';
    byTag.set(tag, [...(byTag.get(tag) ?? []), o]);
  }
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(info.title)}</title>
<link rel="stylesheet" href="/assets/api-docs.css">
</head>
<body>
<header>
<h1>${escape(info.title)} <small>${escape(info.version)}</small></h1>
<p>${prose(info.description)}</p>
<p>The machine-readable contract: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1). ${operations.length} operations on ${Object.keys(paths).length} paths.</p>
</header>
<nav>
<h2>Operations</h2>
${[...byTag].map(([tag, ops]) => `<h3>${escape(tag)}</h3><ul>${ops.map(({ path, method, op }) => `<li><a href="#${escape(op.operationId)}"><span class="method ${escape(method)}">${escape(method.toUpperCase())}</span> ${escape(path)}</a></li>`).join('')}</ul>`).join('\n')}
</nav>
<main>
<h2>Authentication</h2>
${Object.entries(components.securitySchemes).map(([name, s]) => `<h3><code>${escape(name)}</code> (${escape(s.type)})</h3><p>${prose(s.description)}</p>${s.flows ? schemaBlock(s.flows) : ''}`).join('\n')}
${[...byTag].map(([tag, ops]) => `<h2>${escape(tag)}</h2>\n${ops.map(({ path, method, op }) => operationHtml(path, method, op)).join('\n')}`).join('\n')}
<h2>Schemas</h2>
${Object.entries(components.schemas).map(([name, schema]) => `<section id="schema-${escape(name)}"><h3>${escape(name)}</h3>${schemaBlock(schema)}</section>`).join('\n')}
</main>
</body>
</html>
`;
}
