// The example app's front end: everything a host page does with Patchbay.
const brokerUrl = document.querySelector('meta[name="patchbay-broker"]').content;
const { Patchbay } = await import(`${brokerUrl}/sdk/patchbay.js`);

const $ = (selector) => document.querySelector(selector);
const show = (selector, value) => { $(selector).textContent = typeof value === "string" ? value : JSON.stringify(value, null, 2); };
let pb;
let args = {};
let chosenAccount;

/** Asks this app's own backend for a session token for the signed-in user. */
async function sessionToken(userId) {
  const response = await fetch("/api/patchbay-session", { method: "POST", body: JSON.stringify({ userId }) });
  if (!response.ok) throw new Error(`session: HTTP ${response.status}`);
  return (await response.json()).token;
}

function describe(err) {
  return err && err.code ? `${err.code}: ${err.message}` : String(err);
}

async function refreshAccounts() {
  const appId = $("#accounts-app").value;
  const list = $("#accounts");
  list.replaceChildren();
  if (!appId) return;
  for (const account of await pb.getConnectedAccounts(appId)) {
    const item = document.createElement("li");
    item.textContent = `${account.displayName} · ${account.status} · connected ${new Date(account.createdAt).toLocaleString()} `;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary";
    remove.textContent = `Disconnect ${account.displayName}`;
    remove.addEventListener("click", async () => {
      try {
        await pb.disconnectApp(appId, account.id);
      } catch (err) {
        show("#status", describe(err));
      }
    });
    item.append(remove);
    list.append(item);
  }
}

function offerAccounts(candidates) {
  const box = $("#account-choice");
  box.replaceChildren();
  const label = document.createElement("p");
  label.textContent = "You have several accounts for this app. Which one?";
  box.append(label);
  for (const candidate of candidates) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = candidate.displayName;
    button.addEventListener("click", () => {
      chosenAccount = candidate.id;
      box.replaceChildren(`Using ${candidate.displayName}`);
    });
    box.append(button);
  }
}

async function run(action) {
  try {
    await action();
  } catch (err) {
    if (err && err.code === "CONNECTED_ACCOUNT_REQUIRED") offerAccounts(err.details.candidates);
    show("#result", describe(err));
  }
}

async function start(userId) {
  show("#status", "Loading…");
  pb = await Patchbay.init({ brokerUrl, sessionToken: await sessionToken(userId), lang: navigator.language.startsWith("fr") ? "fr" : "en" });
  window.patchbay = pb; // for the browser console (and the end-to-end tests)
  pb.on("app-connected", (event) => {
    // A connect started before a reload (the user reloaded while signing in) ends here.
    if (event.resumed) show("#notice", `Connected ${event.appId} (finished after a reload)`);
    return refreshAccounts();
  });
  pb.on("app-disconnected", refreshAccounts);
  await pb.renderMarketplace({ container: "#marketplace", mode: "inline" });
  const apps = ["acme-id", "httpbin-basic", "httpbin-key", "helpdesk"];
  $("#accounts-app").replaceChildren(...apps.map((id) => new Option(id, id)));
  await refreshAccounts();
  show("#status", `Ready (${userId})`);
}

$("#accounts-app").addEventListener("change", () => run(refreshAccounts));
$("#function").addEventListener("change", () => {
  args = {};
  chosenAccount = undefined;
  $("#account-choice").replaceChildren();
  show("#args", args);
});
$("#fill").addEventListener("click", () =>
  run(async () => {
    args = await pb.showFunctionUI($("#function").value, args, chosenAccount);
    show("#args", args);
  }),
);
$("#invoke").addEventListener("click", () =>
  run(async () => {
    const result = await pb.invokeFunction($("#function").value, args, chosenAccount);
    show("#result", result);
  }),
);
$("#user").addEventListener("change", (event) => run(() => start(event.target.value)));

// `?user=` picks the signed-in user (a stand-in for the host app's own sign-in).
const requested = new URLSearchParams(location.search).get("user");
if (requested) $("#user").append(new Option(requested, requested, true, true));
await run(() => start($("#user").value));
