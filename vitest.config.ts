import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Two projects: worker tests run inside workerd (the Workers runtime, through miniflare);
// Node tests cover the offline side (scripts/ and core/).
export default defineConfig({
  test: {
    // The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    reporters: ["default", ["json", { outputFile: "test-output/vitest.json" }]],
    projects: [
      {
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: await readD1Migrations("./migrations"),
                ADMIN_TOKEN: "test-admin-token",
                USER_TOKEN_SECRET: "test-user-token-secret",
                CORS_ORIGINS: "https://shop.example, https://other.example",
                // The older promotion tests expect the cron to promote at once; test/worker/promotion.test.ts passes
                // its own canary share.
                CANARY_SHARE: "0",
                // The tests write the catalog through D1 directly (another isolate, as it were) and expect the next
                // request to see it; test/worker/freshness.test.ts passes its own window.
                CATALOG_FRESHNESS_MS: "0",
              },
            },
          })),
        ],
        // ONNX sessions and crons that run several models take seconds on a loaded 2-core machine: 5 s is too tight.
        test: { name: "worker", include: ["test/worker/**/*.test.ts"], setupFiles: ["test/worker/setup.ts"], testTimeout: 60_000 },
      },
      {
        test: { name: "node", include: ["test/node/**/*.test.ts"], environment: "node", testTimeout: 120_000 },
      },
      {
        // The demo page in Debian's chromium against `npm start`; one file, it starts its own server.
        test: { name: "browser", include: ["test/browser/**/*.test.ts"], environment: "node", testTimeout: 120_000, hookTimeout: 150_000 },
      },
    ],
  },
});
