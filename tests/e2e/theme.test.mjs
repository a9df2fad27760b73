// Theming: `theme: "light" | "dark" | "system"` and the host's brand through CSS custom
// properties, on the example app's strict CSP (`style-src 'self'`), with axe in both themes and a
// screenshot of each.
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

/** A page of the example app with a second SDK instance in `theme`, as `window.themed`. */
async function themedPage(theme, user, brand = {}) {
  const page = await browser.newPage();
  page.errors = watchErrors(page);
  // The host's brand, set before its page renders (through the CSSOM, which the page's
  // `style-src 'self'` allows).
  // (The document is parsed, and the page's module scripts not yet run, at "interactive".)
  await page.addInitScript((brand) => {
    const apply = () => {
      for (const [name, value] of Object.entries(brand)) document.documentElement.style.setProperty(name, value);
    };
    document.addEventListener("readystatechange", apply, { once: true });
  }, brand);
  await page.goto(`${env.APP_URL}/?user=${user}`);
  await page.getByText(`Ready (${user})`).waitFor({ timeout: 20000 });
  await page.evaluate(async ([theme, user]) => {
    const brokerUrl = document.querySelector('meta[name="patchbay-broker"]').content;
    const { Patchbay } = await import(`${brokerUrl}/sdk/patchbay.js`);
    const response = await fetch("/api/patchbay-session", { method: "POST", body: JSON.stringify({ userId: user }) });
    window.themed = await Patchbay.init({ brokerUrl, sessionToken: (await response.json()).token, theme });
  }, [theme, user]);
  return page;
}

/** Opens the Basic credential form of `window.themed` and returns the dialog's colours. */
async function openForm(page) {
  await page.evaluate(() => {
    window.formClosed = window.themed.connectApp("httpbin-basic").catch((err) => err.code);
  });
  await page.getByRole("dialog").waitFor();
  return page.evaluate(() => {
    const host = [...document.querySelectorAll("[data-patchbay=credentials]")].pop();
    const dialog = host.shadowRoot.querySelector(".dialog");
    const primary = host.shadowRoot.querySelector("button.primary");
    const style = (element) => getComputedStyle(element);
    return {
      theme: [...host.classList].find((c) => /^pb-(light|dark|system)$/.test(c)),
      background: style(dialog).backgroundColor,
      text: style(dialog).color,
      primaryText: style(primary).color,
      primaryBackground: style(primary).backgroundColor,
      radius: style(primary).borderRadius,
      font: style(dialog).fontFamily,
    };
  });
}

async function closeForm(page) {
  await page.keyboard.press("Escape");
  assert.equal(await page.evaluate(() => window.formClosed), "USER_CANCELLED");
}

test("light and dark themes are accessible and look their part", async () => {
  for (const theme of ["light", "dark"]) {
    const page = await themedPage(theme, `theme-${theme}`);
    const colours = await openForm(page);
    assert.equal(colours.theme, `pb-${theme}`);
    const dark = colours.background === "rgb(22, 27, 34)";
    assert.equal(dark, theme === "dark", `${theme}: dialog background ${colours.background}`);
    await assertAccessible(page, `credential form, ${theme} theme`);
    await screenshot(page, `credential-form-${theme}`);
    await closeForm(page);
    assert.deepEqual(page.errors.filter((e) => /Content Security Policy/i.test(e)), [], "no CSP violations");
    await page.close();
  }
});

test("the system theme follows prefers-color-scheme", async () => {
  const page = await themedPage("system", "theme-system");
  await page.emulateMedia({ colorScheme: "dark" });
  assert.equal((await openForm(page)).background, "rgb(22, 27, 34)");
  await closeForm(page);
  await page.emulateMedia({ colorScheme: "light" });
  assert.equal((await openForm(page)).background, "rgb(255, 255, 255)");
  await closeForm(page);
  await page.close();
});

test("the host's brand reaches the dialogs, with readable text on its accent", async () => {
  const page = await themedPage("light", "theme-brand", {
    "--patchbay-accent": "#ffd400",
    "--patchbay-radius": "0px",
    "--patchbay-font": "Georgia, serif",
  });
  const yellow = await openForm(page);
  assert.equal(yellow.primaryBackground, "rgb(255, 212, 0)");
  assert.equal(yellow.primaryText, "rgb(0, 0, 0)", "black text on a light accent");
  assert.equal(yellow.radius, "0px");
  assert.match(yellow.font, /Georgia/);
  await assertAccessible(page, "credential form with a yellow accent");
  await screenshot(page, "credential-form-brand");
  await closeForm(page);

  await page.evaluate(() => document.documentElement.style.setProperty("--patchbay-accent", "#5b21b6"));
  assert.equal((await openForm(page)).primaryText, "rgb(255, 255, 255)", "white text on a dark accent");
  await closeForm(page);
  await page.evaluate(() => document.documentElement.style.setProperty("--patchbay-accent-text", "#fde68a"));
  assert.equal((await openForm(page)).primaryText, "rgb(253, 230, 138)", "the host's own accent text wins");
  await closeForm(page);
  await page.close();
});
