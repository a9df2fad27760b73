import { Patchbay } from "@patchbay/sdk";

const $ = (s) => document.querySelector(s);
const { token } = await (await fetch("/api/patchbay-session", { method: "POST" })).json();
const pb = await Patchbay.init({ brokerUrl: __PATCHBAY_BROKER_URL__, sessionToken: token, lang: "en" });
let args = {};

async function refresh() {
  const accounts = await pb.getConnectedAccounts("httpbin-basic");
  $("#accounts").replaceChildren(
    ...accounts.map((account) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.textContent = `Disconnect ${account.displayName}`;
      button.onclick = () => pb.disconnectApp("httpbin-basic", account.id);
      item.append(`${account.displayName} (${account.status}) `, button);
      return item;
    }),
  );
}

pb.on("app-connected", refresh);
pb.on("app-disconnected", refresh);
await pb.renderMarketplace({ container: "#marketplace", mode: "inline" });
await refresh();
$("#status").textContent = "Ready";

const show = (value) => ($("#result").textContent = JSON.stringify(value, null, 2));
$("#fill").onclick = async () => {
  try {
    args = await pb.showFunctionUI("httpbin-basic-create-contact", args);
    show(args);
  } catch (err) {
    show({ code: err.code, message: err.message });
  }
};
$("#invoke").onclick = async () => {
  try {
    show(await pb.invokeFunction("httpbin-basic-create-contact", args));
  } catch (err) {
    show({ code: err.code, message: err.message, details: err.details });
  }
};
