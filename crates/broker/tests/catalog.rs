//! The built-in catalog (`catalog/apps/`): every file passes the publishing rules `catalog check`
//! applies, the catalog covers what the product promises, the demo catalog still layers on top,
//! and `docs/catalog.md` is what `catalog docs` generates.

use std::collections::BTreeSet;

use patchbay_broker::catalog::{check, fixture_sources, reference_markdown, Catalog, Layer, BUILTIN_FILES};
use patchbay_broker::credentials::Credentials;
use patchbay_broker::oauth::{authorize_url, AuthorizeRequest};
use patchbay_protocol::AuthType;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Apps whose API has no identity request usable with their least scopes (see each file).
const WITHOUT_VERIFY: [&str; 2] = ["google-sheets", "quickbooks"];

fn builtin() -> Catalog {
    // No environment: built-in apps must load without any operator client configured.
    check(&[], false, |_| None).unwrap_or_else(|problems| {
        panic!("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
    })
}

#[test]
fn every_built_in_app_passes_the_publishing_rules() {
    let catalog = builtin();
    let apps: Vec<_> = catalog.apps().collect();
    assert_eq!(apps.len(), BUILTIN_FILES.len(), "one app per file");
    assert!(apps.len() >= 60, "{} apps", apps.len());
    for app in &apps {
        assert!(
            (2..=5).contains(&app.functions.len()),
            "{}: {} functions (2 to 5 expected)",
            app.id,
            app.functions.len()
        );
        let verify = app.verify.as_ref();
        assert!(
            verify.is_some() || WITHOUT_VERIFY.contains(&app.id.as_str()),
            "{}: no verify request",
            app.id
        );
        if let Some(oauth) = &app.oauth2 {
            assert!(oauth.default_client.is_none(), "{}: no client without its variables", app.id);
        }
    }
    let auth_types: BTreeSet<&str> = apps.iter().map(|a| a.auth.as_str()).collect();
    let all: BTreeSet<&str> = AuthType::ALL.iter().map(|a| a.as_str()).collect();
    assert_eq!(auth_types, all, "every auth type is represented by real apps");
    let categories: BTreeSet<&str> = apps.iter().filter_map(|a| a.category.as_deref()).collect();
    for needed in [
        "crm",
        "chat",
        "email",
        "calendar",
        "files",
        "developer",
        "project_management",
        "support",
        "marketing",
        "accounting",
        "ecommerce",
    ] {
        assert!(categories.contains(needed), "no app in `{needed}`");
    }
    assert!(apps.iter().all(|a| a.builtin));
    let zoom = catalog.app("zoom").and_then(|a| a.oauth2.as_ref()).expect("zoom");
    assert!(zoom.requires_own_client);
}

#[test]
fn operator_clients_come_from_the_environment_when_set() {
    let catalog = check(&[], false, |name| Some(format!("{name}-value"))).expect("loads");
    let hubspot = catalog.app("hubspot").and_then(|a| a.oauth2.as_ref()?.default_client.clone());
    assert_eq!(hubspot.map(|c| c.id), Some("HUBSPOT_CLIENT_ID-value".to_owned()));
}

#[test]
fn hubspot_asks_for_exactly_the_white_label_guides_scopes() {
    let catalog = builtin();
    let hubspot = catalog.app("hubspot").expect("hubspot");
    let oauth = hubspot.oauth2.as_ref().expect("oauth2");
    let guide =
        "content oauth crm.schemas.deals.read crm.objects.contacts.write crm.objects.companies.write \
                 crm.lists.write crm.objects.companies.read crm.lists.read crm.objects.deals.read \
                 crm.schemas.contacts.read crm.objects.deals.write crm.objects.contacts.read \
                 crm.schemas.companies.read";
    let scopes: Vec<String> = guide.split(' ').map(str::to_owned).collect();
    assert_eq!(oauth.scopes, scopes);
    // A workspace's own client with those scopes: the authorize request carries exactly them.
    let client = patchbay_broker::catalog::OAuthClient { id: "own".into(), secret: "s".into() };
    let request = AuthorizeRequest {
        redirect_uri: "https://broker.example/oauth/callback",
        state: "st",
        challenge: "ch",
        scopes: &scopes,
        another_account: false,
        values: &Credentials::default(),
    };
    let url = authorize_url(oauth, &client, &request).expect("a fixed endpoint");
    let scope = url.query_pairs().find(|(k, _)| k == "scope").map(|(_, v)| v.into_owned());
    assert_eq!(scope.as_deref(), Some(guide));
    // Deals are object type 0-3 in HubSpot's published description.
    for (object, path) in
        [("contacts", "/objects/contacts"), ("companies", "/objects/companies"), ("deals", "/objects/0-3")]
    {
        assert!(hubspot.functions.iter().any(|f| f.path_source.contains(path)), "no function over {object}");
    }
}

#[test]
fn connecting_another_account_asks_the_provider_to_choose() {
    let catalog = builtin();
    let client = patchbay_broker::catalog::OAuthClient { id: "c".into(), secret: "s".into() };
    let values = Credentials::default();
    let url = |app: &str, another_account| {
        let oauth = catalog.app(app).and_then(|a| a.oauth2.as_ref()).expect("oauth app");
        let request = AuthorizeRequest {
            redirect_uri: "https://b/cb",
            state: "s",
            challenge: "c",
            scopes: &[],
            another_account,
            values: &values,
        };
        authorize_url(oauth, &client, &request).expect("a fixed endpoint").to_string()
    };
    assert!(!url("microsoft-teams", false).contains("prompt="));
    assert!(url("microsoft-teams", true).contains("prompt=select_account"));
    assert!(!url("notion", false).contains("code_challenge"), "pkce = false");
}

#[test]
fn the_demo_catalog_layers_on_the_built_in_one() {
    let demo = std::fs::read_to_string(format!("{ROOT}/examples/catalog.toml")).expect("demo catalog");
    let layers = [Layer { file: "examples/catalog.toml".into(), source: &demo, builtin: false }];
    let catalog = check(&layers, true, |_| Some("http://127.0.0.1:9".into()));
    // The demo's local apps are not publishable (no docs link, http), but they load beside the
    // built-in ones: the only problems are those rules, never a load error.
    let problems = catalog.err().unwrap_or_default();
    assert!(problems.iter().all(|p| p.file == "examples/catalog.toml"), "{problems:?}");
    let mut all = patchbay_broker::catalog::builtin_layers();
    all.extend(layers);
    let loaded = Catalog::parse_layers(&all, |_| Some("http://127.0.0.1:9".into())).expect("loads");
    assert!(loaded.app("acme-id").is_some_and(|a| !a.builtin), "the demo's own apps are not marked built-in");
    assert!(loaded.app("hubspot").is_some_and(|a| a.builtin));
}

#[test]
fn the_catalog_reference_is_up_to_date() {
    let fixtures = std::path::Path::new(ROOT).join("tests/fixtures/apis");
    let expected = reference_markdown(&builtin(), &fixture_sources(&fixtures).expect("fixtures"));
    let path = format!("{ROOT}/docs/catalog.md");
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/catalog.md is out of date: run `cargo run -p patchbay-broker -- catalog docs > docs/catalog.md`"
    );
}

/// `{anything}` -> `{}`, so `{args.owner}` matches the description's `{owner}`.
fn normalise(path: &str) -> String {
    let mut out = String::new();
    let mut in_var = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_var = true;
                out.push_str("{}");
            }
            '}' => in_var = false,
            c if !in_var => out.push(c),
            _ => {}
        }
    }
    out
}

/// The path part of an app's base URL (a templated one rendered with stand-in values).
fn base_path(app: &patchbay_broker::catalog::App) -> String {
    let url = match (&app.base_url, &app.base_url_template) {
        (Some(url), _) => url.clone(),
        (None, Some(template)) => {
            let rendered = template.render(|_| Some("h"));
            let absolute =
                if rendered.starts_with("http") { rendered } else { format!("https://{rendered}") };
            url::Url::parse(&absolute).expect("rendered base URL")
        }
        (None, None) => return String::new(),
    };
    url.path().trim_end_matches('/').to_owned()
}

#[test]
fn functions_exist_in_the_providers_published_api_descriptions() {
    let catalog = builtin();
    let fixtures =
        patchbay_broker::catalog::fixtures(&std::path::Path::new(ROOT).join("tests/fixtures/apis"))
            .expect("fixtures");
    assert!(fixtures.len() >= 10, "{} fixtures", fixtures.len());
    let mut problems = Vec::new();
    for (app_id, fixture) in &fixtures {
        let app = catalog.app(app_id).unwrap_or_else(|| panic!("fixture for unknown app `{app_id}`"));
        let prefix = base_path(app);
        for function in &app.functions {
            let path = normalise(&format!("{prefix}{}", function.path_source));
            let Some(operation) = fixture
                .operations
                .iter()
                .find(|op| op.method == function.method.as_str() && normalise(&op.path) == path)
            else {
                problems.push(format!(
                    "{}: {} {path} is not in {}",
                    function.name, function.method, fixture.source
                ));
                continue;
            };
            // Required query and body parameters must be sent by the function's templates.
            let mut sent: Vec<String> = function.query.iter().map(|(name, _)| name.clone()).collect();
            sent.extend(function.headers.iter().map(|(name, _)| name.to_string()));
            if let Some(patchbay_broker::catalog::BodyTemplate::Object(fields)) = &function.body {
                sent.extend(fields.iter().map(|(name, _)| name.clone()));
            }
            for required in &operation.required {
                if !sent.iter().any(|s| s.eq_ignore_ascii_case(required)) {
                    problems.push(format!("{}: required `{required}` is not sent", function.name));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn catalog_check_names_the_file_the_app_and_the_field_and_fails_the_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_patchbay-broker"))
            .args(["catalog", "check"])
            .arg(file)
            .env_remove("PATCHBAY_CONFIG")
            .output()
            .expect("runs")
    };
    let bad = dir.path().join("mine.toml");
    std::fs::write(
        &bad,
        "[apps.crm]\nname = \"CRM\"\nauth = \"api_key\"\ncategory = \"crm\"\ndocs = \"https://crm.example/docs\"\n\
         base_url = \"http://api.crm.example\"\ninject.headers.X-Key = \"{api_key}\"\nfunctions.me = { title = \"Me\", path = \"/me\" }\n",
    )
    .expect("write");
    let out = run(&bad);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("catalog {}: app `crm`: field `base_url`: must be https", bad.display())),
        "{stderr}"
    );

    // An override of a built-in app is checked in context, and a good file passes.
    let good = dir.path().join("override.toml");
    std::fs::write(&good, "[apps.hubspot]\nname = \"HubSpot (ours)\"\n").expect("write");
    let out = run(&good);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("catalog ok: "));
}
