use super::*;

fn parse(source: &str) -> Result<Catalog, CatalogError> {
    Catalog::parse(source, "test.toml", |name| (name == "HTTPBIN").then(|| "http://127.0.0.1:9".to_owned()))
}

fn problem(source: &str) -> String {
    parse(source).err().map(|e| e.to_string()).unwrap_or_else(|| "parsed".into())
}

#[test]
fn a_full_credential_app_loads_with_defaults() {
    let catalog = parse(
        r#"
        [apps.helpdesk]
        name = "Helpdesk"
        auth = "api_key_url"
        accounts = "multiple"
        inject = { headers = { "X-API-Key" = "{api_key}" } }
        verify = { path = "/api/me", display_name = "/name", identity = "/id" }
        fields.base_url = { label = "Your helpdesk URL" }

        [apps.bin]
        name = "Bin"
        auth = "basic"
        base_url = "${HTTPBIN}/x"
        "#,
    )
    .expect("valid catalog");
    let helpdesk = catalog.app("helpdesk").expect("helpdesk");
    assert_eq!(helpdesk.accounts, AccountsPolicy::Multiple);
    assert_eq!(helpdesk.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["base_url", "api_key"]);
    assert_eq!(helpdesk.fields[0].label, "Your helpdesk URL");
    assert_eq!(helpdesk.fields[1].kind, FieldKind::Secret);
    assert_eq!(helpdesk.verify.as_ref().map(|v| v.method.clone()), Some(Method::GET));
    let bin = catalog.app("bin").expect("bin");
    assert_eq!(bin.base_url.as_ref().map(Url::as_str), Some("http://127.0.0.1:9/x"));
    assert!(bin.inject.basic.is_some(), "basic apps inject Basic by default");
}

#[test]
fn errors_name_the_file_the_app_and_the_field() {
    assert_eq!(
        problem("[apps.a]\nname = \"A\"\nauth = \"basic\"\nbase_url = \"${NOPE}\""),
        "catalog test.toml: app `a`: field `base_url`: environment variable `NOPE` is not set"
    );
    assert_eq!(
        problem("[apps.a]\nname = \"A\"\nauth = \"api_key\"\nbase_url = \"http://x\""),
        "catalog test.toml: app `a`: field `inject`: `api_key` apps must declare how the key is sent (headers or query)"
    );
    assert_eq!(
        problem("[apps.a]\nname = \"A\"\nauth = \"basic\"\nbase_url = \"ftp://x\""),
        "catalog test.toml: app `a`: field `base_url`: must be an http or https URL"
    );
    let unknown_placeholder = problem(
        "[apps.a]\nname = \"A\"\nauth = \"api_key\"\nbase_url = \"http://x\"\ninject.headers.X = \"{password}\"",
    );
    assert!(
        unknown_placeholder.contains("field `inject.headers`: unknown placeholder `{password}`"),
        "{unknown_placeholder}"
    );
    let typo = problem("[apps.a]\nname = \"A\"\nauth = \"basic\"\nbase_url = \"http://x\"\nbase_ulr = 1");
    assert!(typo.starts_with("catalog test.toml: app `a`: unknown field `base_ulr`"), "{typo}");
    let bad_auth = problem("[apps.a]\nname = \"A\"\nauth = \"magic\"");
    assert!(bad_auth.contains("app `a`") && bad_auth.contains("magic"), "{bad_auth}");
    assert!(problem("[apps.Bad]\nname = \"A\"\nauth = \"basic\"").contains("app `Bad`"));
    assert!(problem("apps = [").starts_with("catalog test.toml: "));
    assert!(problem("[apps.a]\nname = \"A\"\nauth = \"basic_url\"\nbase_url = \"http://x\"")
        .contains("take the base URL from the user"));
    assert!(problem(
        "[apps.a]\nname = \"A\"\nauth = \"basic\"\nbase_url = \"http://x\"\nverify.path = \"me\""
    )
    .contains("field `verify.path`: must start with `/`"));
}

#[test]
fn functions_default_their_title_and_errors_name_the_function() {
    let app = "[apps.a]\nname = \"A\"\nauth = \"basic\"\nbase_url = \"http://x\"\n";
    let catalog =
        parse(&format!("{app}[apps.a.functions.create-contact]\npath = \"/contacts\"\n")).expect("valid");
    let (_, function) = catalog.function("a-create-contact").expect("function");
    assert_eq!(function.title, "Create contact", "defaulted from the name");
    assert_eq!(
        problem(&format!("{app}[apps.a.functions.create-contact]\ntitle = \"C\"\n")),
        "catalog test.toml: app `a`: field `functions.create-contact`: missing field `path`"
    );
    assert_eq!(
        problem(&format!("{app}[apps.a.functions.list_all]\npath = \"items\"\n")),
        "catalog test.toml: app `a`: field `functions.list_all.path`: must start with `/`"
    );
}
