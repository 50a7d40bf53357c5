import { it } from 'node:test';
import assert from 'node:assert/strict';
import { configProblems, loadConfig } from '../config/env.ts';

it('OIDC_STATE_TTL_SECONDS: 600 by default, a positive number of seconds up to an hour', () => {
  assert.equal(loadConfig({}).oidcStateTtlSeconds, 600);
  assert.equal(loadConfig({ OIDC_STATE_TTL_SECONDS: '120' }).oidcStateTtlSeconds, 120);
  assert.match(configProblems({ OIDC_STATE_TTL_SECONDS: '0' }).join(), /OIDC_STATE_TTL_SECONDS: must be positive/);
  assert.match(configProblems({ OIDC_STATE_TTL_SECONDS: 'ten' }).join(), /OIDC_STATE_TTL_SECONDS: must be a number/);
  assert.match(configProblems({ OIDC_STATE_TTL_SECONDS: '7200' }).join(), /OIDC_STATE_TTL_SECONDS: must be at most 3600/);
});
