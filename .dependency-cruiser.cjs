/**
 * The layer rule (issue 12), checked in CI by test/layers.test.ts and `npm run lint:layers`.
 *
 * Folders under src/ are listed bottom to top. A file may import its own folder, any folder
 * listed before its own, and nothing after it: one total order, so folder-level cycles are
 * impossible, not merely absent today. Koa stops at the pages floor. DESIGN.md has the same
 * list with one line per folder.
 */
const FLOORS = [
  ['kernel', ['config', 'core', 'storage', 'events']],
  ['domain', ['audit', 'tenancy', 'webhooks', 'security', 'accounts', 'sms', 'mail', 'mfa', 'oidc', 'account-recovery', 'federation', 'runtime', 'isolation']],
  ['pages', ['web', 'api', 'interactions', 'console']],
  ['edge', ['http']],
  ['composition', ['commands']],
];
const ORDER = FLOORS.flatMap(([, folders]) => folders);
const BELOW_PAGES = FLOORS.slice(0, 2).flatMap(([, folders]) => folders);

const upward = ORDER.slice(0, -1).map((folder, i) => ({
  name: `upward-from-${folder}`,
  comment: `src/${folder}/ may import only folders listed before it (${ORDER.slice(0, i).join(', ') || 'none'})`,
  severity: 'error',
  from: { path: `^src/${folder}/` },
  to: { path: `^src/(${ORDER.slice(i + 1).join('|')})/|^src/[^/]+\\.ts$` },
}));

module.exports = {


  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles between modules, even inside one folder.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upward,
    {
      name: 'koa-stops-at-pages',
      comment: 'Domain and kernel code takes plain values, not a Koa context.',
      severity: 'error',
      from: { path: `^src/(${BELOW_PAGES.join('|')})/` },
      to: { path: '(^|/)node_modules/(koa|@koa/[^/]+)/' },
    },
    {
      name: 'unlisted-folder',
      comment: 'Every folder under src/ has a place in the order above.',
      severity: 'error',
      from: { path: '^src/', pathNot: `^src/((${ORDER.join('|')})/|[^/]+\\.ts$)` },
      to: {},
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
