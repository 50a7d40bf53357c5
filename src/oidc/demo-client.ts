/**
 * The client of demo mode's built-in relying party (`/demo`, console/demo-routes.ts): the
 * demo seed (commands/demo.ts) registers it in each demo tenant, and the demo pages sign in
 * with it. One name for both, below either of them.
 */
export const DEMO_CLIENT_ID = 'demo-app';
