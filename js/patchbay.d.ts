// Types of @patchbay/sdk (the package entry, patchbay.js). Hand-written: wasm-bindgen only knows
// `any` for the values the SDK checks itself. `tests/browser-types.ts` type-checks them (and that
// the generated glue has every method declared here); a native test (src/error.rs) checks the
// error codes against the protocol's closed list.

/** Every code a `PatchbayError` can carry (the protocol's closed list). */
export type ErrorCode =
  | "BAD_REQUEST"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "UNAUTHORIZED"
  | "SESSION_EXPIRED"
  | "ORIGIN_NOT_ALLOWED"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "APP_NOT_FOUND"
  | "FUNCTION_NOT_FOUND"
  | "ACCOUNT_NOT_FOUND"
  | "NOT_CONNECTED"
  | "CONNECTED_ACCOUNT_REQUIRED"
  | "INVALID_ARGUMENTS"
  | "URL_NOT_ALLOWED"
  | "CREDENTIALS_REJECTED"
  | "REAUTH_REQUIRED"
  | "UPSTREAM_ERROR"
  | "UPSTREAM_UNAVAILABLE"
  | "RATE_LIMITED"
  | "OWN_CLIENT_REQUIRED"
  | "TEST_REQUIRED"
  | "INTERNAL"
  | "INVALID_OPTIONS"
  | "POPUP_BLOCKED"
  | "USER_CANCELLED"
  | "CONNECT_TIMEOUT"
  | "NETWORK";

/** One failing field: a credential field name, an option name, or a JSON Pointer (`/address/zip`). */
export interface FieldError {
  field: string;
  reason: string;
}

/** One of several accounts a call could act on (CONNECTED_ACCOUNT_REQUIRED). */
export interface AccountCandidate {
  id: string;
  displayName: string;
}

/** `PatchbayError.details`: each member is set by the codes that use it. */
export interface PatchbayErrorDetails {
  /** INVALID_ARGUMENTS, INVALID_OPTIONS, URL_NOT_ALLOWED. */
  fields?: FieldError[];
  /** CONNECTED_ACCOUNT_REQUIRED. */
  candidates?: AccountCandidate[];
  /** CREDENTIALS_REJECTED: the app's explanation; OAuth failures: the provider's error string. */
  reason?: string;
  /** UPSTREAM_ERROR, CREDENTIALS_REJECTED: the app's HTTP status (or the broker's, without a body). */
  status?: number;
  /** UPSTREAM_ERROR: the app's response body, size-capped. */
  body?: string;
  /** RATE_LIMITED: seconds to wait, when known. */
  retryAfterSeconds?: number;
  /** Invoke failures: requests sent upstream, retries included. */
  attempts?: number;
}

/** Interface languages. Regional variants of these are accepted (`es-MX`, `pt-PT` → `pt-BR`). */
export type Lang = "en" | "es" | "fr" | "ja" | "pt-BR";

/** `Patchbay.init`'s options. Unknown keys are refused (INVALID_OPTIONS). */
export interface PatchbayOptions {
  /** The broker, `https://…` (plain `http` only for localhost). */
  brokerUrl: string;
  /** A session token minted by your backend (`POST /v1/sessions`) for this page's origin. */
  sessionToken: string;
  /** Interface language (default `en`). */
  lang?: Lang | string;
  /** OAuth apps connect in a popup (default) or by a full-page redirect. */
  oauthMode?: "popup" | "redirect";
  /** Redirect mode: where the broker sends the user back (default: this page). */
  returnTo?: string;
  /**
   * The colour scheme of the SDK's dialogs and marketplace (default `light`; `system` follows
   * `prefers-color-scheme`). Brand them with the CSS custom properties `--patchbay-accent`,
   * `--patchbay-accent-text`, `--patchbay-radius` and `--patchbay-font` on any ancestor.
   */
  theme?: "light" | "dark" | "system";
}

/** A connected account (never its secrets). */
export interface ConnectedAccount {
  id: string;
  appId: string;
  displayName: string;
  status: "active" | "needs_reauth";
  /** RFC 3339. */
  createdAt: string;
  /** RFC 3339. */
  updatedAt: string;
}

/** `invokeFunction`'s result. */
export interface InvokeResult {
  /** The app's HTTP status. */
  status: number;
  /** The app's (mapped) response. */
  output: unknown;
  /** Pass as `cursor` for the next page, when the function is paginated. */
  nextCursor: string | null;
}

/** The account a call acts on; both spellings are accepted. */
export interface AccountOptions {
  connectedAccountId?: string;
  connectedAccountID?: string;
}

/** `invokeFunction`'s options. */
export interface InvokeOptions extends AccountOptions {
  /** A previous result's `nextCursor`. */
  cursor?: string;
}

/** `renderMarketplace`'s options. */
export interface MarketplaceOptions {
  /** An element, or a selector matching one. */
  container: Element | string;
  /** The grid in the container (default), or a button opening it in a dialog. */
  mode?: "inline" | "modal";
}

/** The modal that closed. */
export type ModalName = "credentials" | "oauth-waiting" | "app" | "function" | "marketplace";

/** Event payloads by event name. */
export interface PatchbayEventMap {
  /** `resumed`: the connect was started before this page loaded (a reload while signing in). */
  "app-connected": { appId: string; accountId: string; reconnected?: boolean; resumed?: boolean };
  "app-disconnected": { appId: string; accountId: string };
  "modal-closed": { modal: ModalName; appId?: string; functionName?: string; mode?: "modal" };
  "function-ui-submitted": { functionName: string; args: Record<string, unknown>; connectedAccountId: string };
}

export type PatchbayEventName = keyof PatchbayEventMap;

/** The Patchbay SDK. Every method returns a promise that resolves, or rejects with a `PatchbayError`. */
export class Patchbay {
  private constructor();
  /** Loads the SDK, checks the options and the session, and loads the app list. */
  static init(options: PatchbayOptions): Promise<Patchbay>;
  /**
   * Connects an app: an OAuth popup (call it inside a click handler, or it rejects with
   * POPUP_BLOCKED) or a credential form. Resolves with the account's id. With
   * `connectedAccountId`, that account is reconnected in place.
   */
  connectApp(appId: string, connectedAccountId?: string | AccountOptions): Promise<string>;
  /** The app's page (accounts, connect, reconnect, disconnect); resolves when closed. */
  showApp(appId: string): Promise<void>;
  /** Disconnects the account (required once the user has several: CONNECTED_ACCOUNT_REQUIRED). */
  disconnectApp(appId: string, connectedAccountId?: string | AccountOptions): Promise<void>;
  /** The user's accounts for the app. */
  getConnectedAccounts(appId: string): Promise<ConnectedAccount[]>;
  /** The function's argument form; resolves with the validated, typed arguments. */
  showFunctionUI(
    name: string,
    prefill?: Record<string, unknown> | null,
    connectedAccountId?: string | AccountOptions,
  ): Promise<Record<string, unknown>>;
  /** Invokes the function on the account. */
  invokeFunction(
    name: string,
    args?: Record<string, unknown>,
    connectedAccountId?: string | InvokeOptions,
  ): Promise<InvokeResult>;
  /** Subscribes to an event (INVALID_OPTIONS for an unknown name). */
  on<E extends PatchbayEventName>(event: E, listener: (payload: PatchbayEventMap[E]) => void): void;
  /** Unsubscribes. */
  off<E extends PatchbayEventName>(event: E, listener: (payload: PatchbayEventMap[E]) => void): void;
  /**
   * Renders the marketplace into the container; resolves once it is shown. An inline grid keeps
   * itself current when accounts are connected or disconnected elsewhere on the page.
   */
  renderMarketplace(options: MarketplaceOptions): Promise<void>;
  /** Redirect mode: finishes the connect the broker returned from; the account id, or null. */
  completeRedirect(): Promise<string | null>;
  /** Frees the instance's wasm memory. */
  free(): void;
}

/** The one error every Patchbay SDK promise rejects with. */
export class PatchbayError extends Error {
  constructor(code: ErrorCode, message: string, details?: PatchbayErrorDetails);
  readonly name: "PatchbayError";
  /** A code from the closed list. */
  readonly code: ErrorCode;
  /** Code-specific details (an empty object when there are none). */
  readonly details: PatchbayErrorDetails;
}

/** The SDK's version (after `Patchbay.init` has loaded the module). */
export function sdkVersion(): string;

/** Used by the one-tag embed (`embed.js`): renders the marketplace its script element asks for. */
export function embed(scriptUrl: string): Promise<void>;
