// The Worker's composition root: routes are mounted here; each resource lives in routes/.
import { Hono } from "hono";
import type { AppEnv, Bindings } from "./bindings";
import { health } from "./routes/health";

export const app = new Hono<AppEnv>();
app.route("/", health);
app.notFound((c) => c.json({ error: "not_found", message: `no route for ${c.req.method} ${c.req.path}` }, 404));
app.onError((err, c) => {
  console.error(err);
  return c.json({ error: "internal", message: "internal error" }, 500);
});

export default {
  fetch: app.fetch,
  async scheduled(_controller: ScheduledController, _env: Bindings, _ctx: ExecutionContext) {
    // Model redeploys (validate the newest candidate, promote or reject) arrive with the lifecycle work.
  },
} satisfies ExportedHandler<Bindings>;
