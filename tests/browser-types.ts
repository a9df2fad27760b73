// Compile-only checks of the SDK's TypeScript declarations (js/patchbay.d.ts), run by
// `cargo xtask test --only budget` with `tsc --noEmit --strict`: every export, option, event and
// payload is used as a host would, mistakes are rejected (`@ts-expect-error`), and the methods
// declared are the methods the generated wasm-bindgen glue really has.
import { Patchbay, PatchbayError, sdkVersion } from "@patchbay/sdk";
import type {
  AccountCandidate,
  ConnectedAccount,
  ErrorCode,
  FieldError,
  InvokeResult,
  Lang,
  MarketplaceOptions,
  PatchbayEventMap,
  PatchbayOptions,
} from "@patchbay/sdk";
import type { Patchbay as Glue } from "@patchbay/glue";

// Every method declared exists on the generated class.
type Missing = Exclude<keyof Patchbay, keyof Glue>;
const noneMissing: [Missing] extends [never] ? true : Missing = true;

async function usage(sessionToken: string): Promise<void> {
  const options: PatchbayOptions = { brokerUrl: "https://broker.example", sessionToken, lang: "pt-BR", oauthMode: "popup" };
  const pb: Patchbay = await Patchbay.init(options);
  const version: string = sdkVersion();
  const lang: Lang = "ja";

  const accountId: string = await pb.connectApp("hubspot");
  await pb.connectApp("hubspot", accountId);
  await pb.showApp("hubspot");
  await pb.disconnectApp("hubspot");
  await pb.disconnectApp("hubspot", { connectedAccountID: accountId });
  const accounts: ConnectedAccount[] = await pb.getConnectedAccounts("hubspot");
  const status: "active" | "needs_reauth" = accounts[0].status;
  const args: Record<string, unknown> = await pb.showFunctionUI("hubspot-create-contact", { email: "a@b.c" }, accountId);
  await pb.showFunctionUI("hubspot-create-contact");
  const result: InvokeResult = await pb.invokeFunction("hubspot-list", args, { connectedAccountId: accountId, cursor: "p2" });
  const next: string | null = result.nextCursor;
  const marketplace: MarketplaceOptions = { container: "#integrations", mode: "modal" };
  await pb.renderMarketplace(marketplace);
  await pb.renderMarketplace({ container: document.body });
  const returned: string | null = await pb.completeRedirect();

  const onConnected = (payload: PatchbayEventMap["app-connected"]) => console.log(payload.appId, payload.accountId, payload.reconnected);
  pb.on("app-connected", onConnected);
  pb.off("app-connected", onConnected);
  pb.on("function-ui-submitted", ({ functionName, args, connectedAccountId }) => console.log(functionName, args, connectedAccountId));
  pb.on("modal-closed", ({ modal }) => console.log(modal === "oauth-waiting"));
  pb.on("app-disconnected", ({ accountId }) => console.log(accountId));

  try {
    await pb.invokeFunction("x", {});
  } catch (err) {
    if (err instanceof PatchbayError) {
      const code: ErrorCode = err.code;
      const candidates: AccountCandidate[] | undefined = err.details.candidates;
      const fields: FieldError[] | undefined = err.details.fields;
      const upstream: [number | undefined, string | undefined] = [err.details.status, err.details.body];
      if (code === "CONNECTED_ACCOUNT_REQUIRED") console.log(candidates?.map((c) => c.displayName));
      console.log(fields, upstream, err.message, err instanceof Error);
    }
  }
  console.log(version, lang, status, next, returned, noneMissing);
}

function mistakes(pb: Patchbay): void {
  // @ts-expect-error brokerUrl is required
  void Patchbay.init({ sessionToken: "t" });
  // @ts-expect-error not an event
  pb.on("app-conected", () => {});
  // @ts-expect-error the payload of app-disconnected has no `reconnected`
  pb.on("app-disconnected", (p) => p.reconnected);
  // @ts-expect-error not a mode
  void pb.renderMarketplace({ container: "#x", mode: "popup" });
  // @ts-expect-error not a code
  const code: ErrorCode = "NOPE";
  console.log(code);
}

console.log(usage, mistakes);
