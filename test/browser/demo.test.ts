// The demo page in a real browser: Debian's chromium driven by playwright-core against `npm start` (the embedded
// default on local wrangler dev). .ci/run installs chromium when it is missing; elsewhere the test is skipped.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const PORT = 8791;
const BASE = `http://127.0.0.1:${PORT}`;
const OUT = "test-output";

const manifest = JSON.parse(readFileSync("model/default/manifest.json", "utf8")) as { version: string };

describe.skipIf(!existsSync(CHROMIUM))("demo page in chromium", () => {
  let server: ChildProcess;
  let browser: Browser;

  beforeAll(async () => {
    server = spawn("npm", ["start"], { env: { ...process.env, PORT: String(PORT) }, stdio: "ignore", detached: true });
    const until = Date.now() + 90_000;
    for (;;) {
      try {
        if ((await fetch(`${BASE}/healthz`)).ok) break;
      } catch {
        /* still starting */
      }
      if (Date.now() > until) throw new Error(`npm start did not answer ${BASE}/healthz within 90 s`);
      await new Promise((r) => setTimeout(r, 500));
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (server?.pid) process.kill(-server.pid, "SIGTERM"); // the whole group: npm, tsx, wrangler, workerd
  });

  it("searches, picks items, and shows recommendations with their SIDs", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(BASE);
    await expect.poll(() => page.textContent("#model-version")).toBe(manifest.version);

    // Search by the start of a title from the embedded catalog and add the first two hits to the history.
    const { clusters } = (await (await fetch(`${BASE}/v1/catalog/clusters?examples=1`)).json()) as {
      clusters: { examples: { title: string | null }[] }[];
    };
    const title = clusters.flatMap((c) => c.examples).find((e) => (e.title ?? "").length >= 4)!.title!;
    await page.getByLabel("Search the catalog by title").fill(title.slice(0, 4));
    await page.locator("#search-results button").first().waitFor();
    const hits = await page.locator("#search-results button").count();
    for (let i = 0; i < Math.min(2, hits); i++) await page.locator("#search-results button").nth(i).click();
    await expect.poll(() => page.locator("#history li button").count()).toBe(Math.min(2, hits));

    await page.getByRole("button", { name: "Recommend" }).click();
    const rows = page.locator("[data-testid=rec]");
    await rows.first().waitFor();
    expect(await rows.count()).toBe(10);
    expect(await rows.first().locator("code").textContent()).toMatch(/^\d+(-\d+)+(\/\d+)?$/);
    expect(await page.locator("#clusters .cluster").count()).toBeGreaterThan(1);

    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: `${OUT}/demo.png`, fullPage: true });
    expect(errors).toEqual([]);
  }, 60_000);
});
