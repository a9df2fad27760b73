// The marketplace holding the built-in catalog (60+ real apps beside the demo's own): search and
// category filter by keyboard, icons, an app page with its documentation link, axe, a screenshot,
// and the cost of a render and of a filter keystroke (printed, not gated: a figure, not a test).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { assertAccessible, env, launch, screenshot, watchErrors } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const visibleTiles = (page) => page.locator("#marketplace li[data-app-id]:visible");

test("60+ apps: search and category filter by keyboard, icons, accessible", async () => {
  const page = await browser.newPage();
  const errors = watchErrors(page);
  await page.goto(`${env.APP_URL}/?user=market-user`);
  await page.getByText("Ready (market-user)").waitFor({ timeout: 20000 });
  const total = await page.locator("#marketplace li[data-app-id]").count();
  assert.ok(total >= 60, `${total} apps in the marketplace`);
  // Real apps carry a generated monogram tile, painted through the CSSOM under the strict CSP.
  const icon = page.locator('li[data-app-id="hubspot"] .icon');
  assert.equal(await icon.textContent(), "HS");
  assert.notEqual(await icon.evaluate((e) => getComputedStyle(e).backgroundColor), "rgba(0, 0, 0, 0)");

  const search = page.getByRole("searchbox", { name: "Search integrations" });
  await search.focus();
  // Long tasks while the user types (a figure for the report, not an assertion).
  await page.evaluate(() => {
    window.longTasks = [];
    new PerformanceObserver((list) => window.longTasks.push(...list.getEntries().map((e) => e.duration))).observe({ type: "longtask" });
  });
  await page.keyboard.type("hub");
  await page.getByText(/^\d+ of \d+ integrations$/).filter({ hasText: /^[1-9] of/ }).waitFor();
  const found = await visibleTiles(page).evaluateAll((tiles) => tiles.map((t) => t.dataset.appId));
  assert.ok(found.includes("hubspot") && found.includes("github"), `search "hub": ${found}`);
  assert.ok(found.length < total);
  assert.equal(await search.evaluate((e) => e === e.getRootNode().activeElement), true, "typing keeps focus in the search box");

  // Tab to the category filter, pick a category by keyboard.
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Backspace");
  await page.keyboard.press("Tab");
  const category = page.getByRole("combobox", { name: "Category" });
  assert.equal(await category.evaluate((e) => e === e.getRootNode().activeElement), true, "Tab reaches the category filter");
  await category.selectOption({ label: "Customer support" });
  await page.waitForFunction(() => {
    const tiles = [...document.querySelector("#marketplace [data-patchbay]").shadowRoot.querySelectorAll("li[data-app-id]")];
    return tiles.filter((t) => !t.hidden).length > 0 && tiles.filter((t) => !t.hidden).length < 15;
  });
  const support = await visibleTiles(page).evaluateAll((tiles) => tiles.map((t) => t.dataset.appId));
  assert.ok(support.includes("zendesk") && !support.includes("hubspot"), `support: ${support}`);
  // Tab from the filter reaches a tile's button.
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => {
    const active = document.querySelector("#marketplace [data-patchbay]").shadowRoot.activeElement;
    return active && active.closest("li") && active.closest("li").dataset.appId;
  });
  assert.ok(support.includes(focused), `keyboard focus on a shown tile (${focused})`);

  await assertAccessible(page, "marketplace with the built-in catalog");
  await screenshot(page, "marketplace-catalog");
  const longTasks = await page.evaluate(() => window.longTasks);
  console.log(`marketplace: ${total} apps; long tasks while filtering: ${longTasks.length ? longTasks.map((d) => d.toFixed(0) + " ms").join(", ") : "none"}`);

  // A render of the whole grid, measured in the page.
  const rendered = await page.evaluate(async () => {
    const box = document.createElement("div");
    document.body.append(box);
    const started = performance.now();
    await window.patchbay.renderMarketplace({ container: box });
    const ms = performance.now() - started;
    box.remove();
    return ms;
  });
  console.log(`marketplace: a render with its app list request took ${rendered.toFixed(1)} ms`);
  assert.deepEqual(errors, []);
  await page.close();
});

test("an app's page links its documentation", async () => {
  const page = await browser.newPage();
  await page.goto(`${env.APP_URL}/?user=market-docs`);
  await page.getByText("Ready (market-docs)").waitFor({ timeout: 20000 });
  await page.evaluate(() => {
    window.closed = window.patchbay.showApp("github");
  });
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  const docs = dialog.getByRole("link", { name: "Documentation" });
  assert.match(await docs.getAttribute("href"), /^https:\/\//);
  assert.equal(await docs.getAttribute("rel"), "noopener noreferrer");
  await page.keyboard.press("Escape");
  await page.evaluate(() => window.closed);
  await page.close();
});
