// Compile-only checks, run by crates/broker/tests/openapi.rs with `tsc --strict`: the types that
// openapi-typescript (an independent generator) makes from the broker's /openapi.json agree with
// the SDK's published declarations (js/patchbay.d.ts) on every wire shape both describe.
import type { components, operations } from "@patchbay/openapi";
import type {
  AccountCandidate,
  ConnectedAccount,
  ErrorCode,
  FieldError,
  InvokeResult,
  PatchbayErrorDetails,
} from "@patchbay/sdk";

type Schemas = components["schemas"];
type Json<T> = T extends { content: { "application/json": infer Body } } ? Body : never;

/** True only when A and B are the same type (members, optionality and all). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

// The error body every operation answers with, as a generated client sees it.
type ErrorBody = Json<components["responses"]["Error"]>;
const codes: Same<ErrorBody["error"]["code"], ErrorCode> = true;
const details: Same<NonNullable<ErrorBody["error"]["details"]>, PatchbayErrorDetails> = true;
const message: Same<ErrorBody["error"]["message"], string> = true;
const fields: Same<Schemas["FieldError"], FieldError> = true;
const candidates: Same<Schemas["AccountCandidate"], AccountCandidate> = true;
// @ts-expect-error a code outside the protocol's closed list is not one
const unknownCode: Schemas["ErrorCode"] = "TEAPOT";

// What the SDK resolves with is what the broker's routes answer.
type Accounts = Json<operations["listAccounts"]["responses"][200]>;
const accounts: Same<Accounts["accounts"][number], ConnectedAccount> = true;
type Invoked = Json<operations["invokeFunction"]["responses"][200]>;
const invoked: Same<Invoked, InvokeResult> = true;
type Connected = Extract<Json<operations["connectApp"]["responses"][201]>, { kind: "connected" }>;
const connected: Same<Connected["account"], ConnectedAccount> = true;

export const checks = [codes, details, message, fields, candidates, unknownCode, accounts, invoked, connected];
