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

it('OIDC_REDIRECT_GRACE_PERIOD_SECONDS: 600 by default, 0 (no grace) to a day', () => {
  assert.equal(loadConfig({}).oidcRedirectGracePeriodSeconds, 600);
  assert.equal(loadConfig({ OIDC_REDIRECT_GRACE_PERIOD_SECONDS: '0' }).oidcRedirectGracePeriodSeconds, 0);
  assert.match(configProblems({ OIDC_REDIRECT_GRACE_PERIOD_SECONDS: '-1' }).join(), /OIDC_REDIRECT_GRACE_PERIOD_SECONDS: must be 0 or more/);
  assert.match(configProblems({ OIDC_REDIRECT_GRACE_PERIOD_SECONDS: 'soon' }).join(), /OIDC_REDIRECT_GRACE_PERIOD_SECONDS: must be a number/);
  assert.match(configProblems({ OIDC_REDIRECT_GRACE_PERIOD_SECONDS: '90000' }).join(), /OIDC_REDIRECT_GRACE_PERIOD_SECONDS: must be at most 86400/);
});
