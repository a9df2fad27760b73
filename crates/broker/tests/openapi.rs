//! The OpenAPI document at `/openapi.json`: an independent validator accepts it, its operations
//! are exactly the routes the router registers and the README lists, each answers as documented
//! (its security scheme included), every error code is in it, and a TypeScript client generated
//! from it by an independent generator type-checks against the SDK's own declarations.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use axum::http::{Method, StatusCode};
use patchbay_protocol::ErrorCode;
use serde_json::Value;
use support::TestBroker;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

const CATALOG: &str = r#"
[apps.tracker]
name = "Tracker"
auth = "basic_url"
"#;

/// The methods an OpenAPI path item can hold, which are also the ones axum's `any` routes.
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Routes the document leaves out on purpose: the console's own pages and forms (cookie session
/// and CSRF token, not an API). `/admin` itself, the console's entry, is documented.
const CONSOLE_PREFIX: &str = "/admin/";

/// (method, path template), `get` and `/v1/apps/{app}`.
type Operations = BTreeSet<(String, String)>;

/// A broker serving an SDK folder (kept alive by the returned directory) with its two entry points.
async fn broker() -> (TestBroker, tempfile::TempDir) {
    let sdk = tempfile::tempdir().expect("tempdir");
    for file in ["embed.js", "patchbay.js"] {
        std::fs::write(sdk.path().join(file), "export {};").expect("write");
    }
    let dir = sdk.path().to_owned();
    (TestBroker::start(CATALOG, vec![], |c| c.sdk_dir = Some(dir)).await, sdk)
}

async fn document(b: &TestBroker) -> Value {
    let reply = b.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.headers["content-type"], "application/json");
    reply.json
}

/// The document written to a file, for the command-line tools.
async fn document_file(dir: &Path) -> std::path::PathBuf {
    let doc = document(&broker().await.0).await;
    let path = dir.join("openapi.json");
    std::fs::write(&path, doc.to_string()).expect("write the document");
    path
}

fn operations(doc: &Value) -> Operations {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.iter().filter(|m| item.get(**m).is_some()).map(|m| ((*m).to_owned(), path.clone()))
        })
        .collect()
}

/// `method`s of `path`, with `any` standing for all of [`METHODS`] and `{*rest}` written `{rest}`
/// as OpenAPI templates it.
fn add(found: &mut Operations, methods: &[&str], path: &str) {
    let path = path.replace("{*", "{");
    for method in methods {
        let expanded: &[&str] = if *method == "any" { &METHODS } else { std::slice::from_ref(method) };
        for m in expanded {
            assert!(found.insert(((*m).to_owned(), path.clone())), "{m} {path} is registered twice");
        }
    }
}

/// The routing methods called in a `.route(…)`'s method router (`get(one).patch(settings)`).
fn routing_calls(args: &str) -> Vec<&'static str> {
    METHODS
        .iter()
        .chain(&["any"])
        .filter(|name| {
            args.match_indices(&format!("{name}("))
                .any(|(at, _)| !args[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        })
        .copied()
        .collect()
}

/// Every `.route("PATH", method(handler)…)` the HTTP layer registers. The router is assembled at
/// run time with no way to list it, so its source is read; a registration this cannot read fails
/// the test rather than being skipped.
fn registered_routes() -> Operations {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut found = Operations::new();
    for entry in std::fs::read_dir(&dir).expect("src/http") {
        let file = entry.expect("entry").path();
        let source = std::fs::read_to_string(&file).expect("readable");
        for (at, _) in source.match_indices(".route(") {
            let call = source[at + ".route(".len()..].trim_start();
            let literal = call.strip_prefix('"').unwrap_or_else(|| {
                panic!("{}: a route whose path is not a literal: {}", file.display(), &call[..40])
            });
            let (path, rest) = literal.split_once('"').expect("closed literal");
            // The method router: up to the parenthesis closing `.route(`.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .expect("closed .route(");
            let methods = routing_calls(&rest[..end]);
            assert!(!methods.is_empty(), "{}: no method for {path}", file.display());
            add(&mut found, &methods, path);
        }
    }
    found
}

/// The endpoints the README's "Broker HTTP API" block lists, one per line (`ANY` for the proxy).
fn readme_endpoints() -> Operations {
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).expect("README.md");
    let section = readme.split("\n## Broker HTTP API\n").nth(1).expect("the Broker HTTP API section");
    let block = section.split("```").nth(1).expect("the endpoint block");
    let mut found = Operations::new();
    for line in block.lines() {
        let mut words = line.split_whitespace();
        let (Some(method), Some(path)) = (words.next(), words.next()) else { continue };
        let listed = ["GET", "POST", "PUT", "PATCH", "DELETE", "ANY"].contains(&method);
        if listed {
            assert!(path.starts_with('/'), "README: `{line}` names no path");
            add(&mut found, &[method.to_lowercase().as_str()], path);
        }
    }
    found
}

#[test]
fn the_route_reader_finds_methods_and_expands_any() {
    let mut found = Operations::new();
    add(&mut found, &routing_calls("get(one).patch(settings))"), "/v1/admin/apps/{app}");
    add(&mut found, &routing_calls("any(forward))"), "/v1/proxy/{account}/{*path}");
    assert_eq!(routing_calls("post(test_result))"), ["post"], "a handler named like a method is no call");
    assert!(found.contains(&("patch".to_owned(), "/v1/admin/apps/{app}".to_owned())));
    assert!(found.contains(&("trace".to_owned(), "/v1/proxy/{account}/{path}".to_owned())));
    assert_eq!(found.len(), 2 + METHODS.len());
}

#[tokio::test]
async fn the_document_has_exactly_the_routers_routes_and_the_readmes() {
    let documented = operations(&document(&broker().await.0).await);
    let registered = registered_routes();
    assert!(registered.len() > 30, "the reader found the routes ({})", registered.len());
    let api: Operations =
        registered.iter().filter(|(_, path)| !path.starts_with(CONSOLE_PREFIX)).cloned().collect();
    let undocumented: Vec<_> = api.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&api).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routed, not documented: {undocumented:?}\ndocumented, not routed: {unrouted:?}"
    );
    let readme = readme_endpoints();
    let unlisted: Vec<_> = documented.difference(&readme).collect();
    let stale: Vec<_> = readme.difference(&documented).collect();
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "README's Broker HTTP API lacks: {unlisted:?}\nlists, not documented: {stale:?}"
    );
}

/// A concrete request path for a template.
fn concrete(template: &str) -> String {
    template
        .replace("{app}", "tracker")
        .replace("{name}", "tracker-list")
        .replace("{account}", "ca_missing")
        .replace("{path}", "patchbay.js")
        .replace("{id}", "missing")
}

/// Whether `reply` came from the router's fallbacks: no route for the path, or not for the method.
fn fallback(reply: &support::Reply) -> bool {
    reply.status == StatusCode::METHOD_NOT_ALLOWED || reply.json["error"]["message"] == "no such route"
}

#[tokio::test]
async fn each_documented_operation_is_routed_and_takes_its_documented_credential_only() {
    let (b, _sdk) = broker().await;
    let doc = document(&b).await;
    let declared = doc["components"]["securitySchemes"].as_object().expect("security schemes");
    let credentials = [("sessionToken", b.session("ann").await), ("secretKey", b.secret_key.clone())];
    for (method, path) in operations(&doc) {
        let operation = &doc["paths"][&path][&method];
        let (method, uri) =
            (Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"), concrete(&path));
        let security = operation["security"].as_array().map(Vec::as_slice).unwrap_or_default();
        let schemes: Vec<&str> = security
            .iter()
            .flat_map(|s| s.as_object().expect("requirement").keys())
            .map(String::as_str)
            .collect();
        for scheme in &schemes {
            assert!(declared.contains_key(*scheme), "{method} {path}: undeclared scheme {scheme}");
        }
        // `{}` among the alternatives: credentials are optional (the metrics token).
        let open =
            security.is_empty() || security.iter().any(|s| s.as_object().is_some_and(|s| s.is_empty()));

        let reply = b.call(method.clone(), &uri, None, None).await;
        let what = format!("{method} {uri} without credentials: {} {}", reply.status, reply.json);
        assert!(!fallback(&reply), "the router has no such route: {what}");
        if open {
            assert!(
                operation["responses"].get(reply.status.as_str()).is_some(),
                "{what}: status not documented"
            );
            continue;
        }
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
        if method != Method::HEAD {
            assert_eq!(reply.code(), "UNAUTHORIZED", "{what}");
        }
        assert!(schemes.iter().all(|s| credentials.iter().any(|(name, _)| name == s)), "{what}: {schemes:?}");
        for (name, credential) in &credentials {
            let reply = b.call(method.clone(), &uri, Some(credential), None).await;
            let what = format!("{method} {uri} with the {name}: {} {}", reply.status, reply.json);
            assert!(!fallback(&reply), "{what}");
            let accepted = reply.status != StatusCode::UNAUTHORIZED;
            assert_eq!(accepted, schemes.contains(name), "{what}; documented: {schemes:?}");
        }
    }
}

#[tokio::test]
async fn the_error_body_and_every_error_code_are_in_the_document() {
    let (b, _sdk) = broker().await;
    let doc = document(&b).await;
    let codes: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("an enum")
        .iter()
        .map(|code| code.as_str().expect("a string"))
        .collect();
    let all: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    assert_eq!(codes, all);
    let error = &doc["components"]["responses"]["Error"];
    assert_eq!(error["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody");
    let description = error["description"].as_str().expect("description");
    for code in ErrorCode::ALL {
        let status = patchbay_broker::error::status_of(*code).as_u16();
        assert!(description.contains(&format!("`{code}` {status}")), "{code} {status} in {description}");
    }
    for (method, path) in operations(&doc) {
        let default = &doc["paths"][&path][&method]["responses"]["default"];
        assert_eq!(default["$ref"], "#/components/responses/Error", "{method} {path}");
    }
    // A real error body has the documented members only.
    let reply = b.call(Method::GET, "/v1/apps", None, None).await;
    let members: BTreeSet<&str> =
        reply.json["error"].as_object().expect("error").keys().map(String::as_str).collect();
    assert_eq!(members, BTreeSet::from(["code", "message", "requestId"]), "{}", reply.json);
    let documented = &doc["components"]["schemas"]["Error"]["allOf"];
    assert_eq!(documented[0]["$ref"], "#/components/schemas/ErrorPayload");
    assert!(documented[1]["properties"]["requestId"].is_object());
}

/// Runs a command of the test toolchain, failing with its output.
fn run(command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|err| panic!("{command:?}: {err}: run `cargo xtask setup`"));
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

#[tokio::test]
async fn an_independent_validator_accepts_the_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = document_file(dir.path()).await;
    // PyPI openapi-spec-validator, from the venv `cargo xtask setup` installs.
    let output = run(Command::new(format!("{ROOT}/.tools/venv/bin/python3"))
        .args(["-m", "openapi_spec_validator"])
        .arg(&file));
    assert!(output.contains(": OK"), "{output}");
}

#[tokio::test]
async fn a_generated_typescript_client_type_checks_against_the_sdks_declarations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = document_file(dir.path()).await;
    let generated = dir.path().join("openapi.d.ts");
    let bin = format!("{ROOT}/tests/node_modules/.bin");
    run(Command::new(format!("{bin}/openapi-typescript")).arg(&file).arg("-o").arg(&generated));
    let config = serde_json::json!({
        "compilerOptions": {
            "strict": true, "noEmit": true, "target": "es2022", "module": "es2022",
            "moduleResolution": "bundler", "lib": ["esnext", "dom"], "types": [],
            "paths": {
                "@patchbay/sdk": [format!("{ROOT}/js/patchbay.d.ts")],
                "@patchbay/openapi": [generated],
            },
        },
        "files": [format!("{ROOT}/tests/openapi-types.ts")],
    });
    let tsconfig = dir.path().join("tsconfig.json");
    std::fs::write(&tsconfig, config.to_string()).expect("write tsconfig");
    run(Command::new(format!("{bin}/tsc")).arg("-p").arg(&tsconfig));
}
