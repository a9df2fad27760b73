// Signing in at oidc-provider's development pages (a login form, then a consent form): the one
// helper both the end-to-end tests and the SDK browser tests' driver (tests/browser-driver.mjs) use.

/** Signs in as `login` and consents, in `page` (a popup or a redirected tab) at the provider. */
export async function signInAtProvider(page, login) {
  await page.waitForURL(/\/interaction\//);
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', "any-password");
  await page.click('button[type="submit"]');
  await page.waitForURL(/\/interaction\/|\/oauth\/callback|\/admin\//);
  if (/\/interaction\//.test(page.url())) {
    await page.click('button[type="submit"]'); // consent
  }
}
