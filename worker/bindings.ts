// What the Worker is given by its environment (wrangler.toml bindings + secrets).
export type Bindings = Cloudflare.Env & {
  /** Bearer token for admin routes: a Worker secret (`wrangler secret put ADMIN_TOKEN`), `.dev.vars` locally. */
  ADMIN_TOKEN?: string;
};

export type AppEnv = { Bindings: Bindings };
