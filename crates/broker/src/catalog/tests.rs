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
fn connect_values_and_token_values_feed_templated_base_urls() {
    let catalog = parse(
        r#"
        [apps.desk]
        name = "Desk"
        auth = "api_key"
        category = "support"
        docs = "https://desk.example/docs"
        base_url = "https://{subdomain}.desk.example/api/v2"
        connect.subdomain = { label = "Subdomain", placeholder = "acme" }
        connect.email = { label = "Email" }
        inject.basic = { username = "{email}/token", password = "{api_key}" }

        [apps.force]
        name = "Force"
        auth = "oauth2"
        base_url = "{instance_url}/services/data/v60.0"
        oauth2 = { authorize_url = "https://login.force.example/authorize", token_url = "https://login.force.example/token", pkce = false, select_account_params = { prompt = "select_account" }, token = { values = { instance_url = "/instance_url" } } }
        "#,
    )
    .expect("valid catalog");
    let desk = catalog.app("desk").expect("desk");
    assert_eq!(
        desk.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["subdomain", "email", "api_key"]
    );
    assert_eq!(desk.fields[0].kind, FieldKind::Text, "connect values are not secrets");
    assert_eq!(desk.category.as_deref(), Some("support"));
    assert_eq!(desk.icon.monogram, "De");
    assert!(ConnectKind::Name.problem("acme").is_none());
    for hostile in ["evil.com/", "a@b", "x:1", "..", "-a", "a..b"] {
        assert!(ConnectKind::Name.problem(hostile).is_some(), "{hostile}");
    }
    let force = catalog.app("force").expect("force");
    let oauth = force.oauth2.as_ref().expect("oauth2");
    assert!(!oauth.pkce);
    assert_eq!(oauth.token.values, [("instance_url".to_owned(), "/instance_url".to_owned())]);
    assert!(force.base_url_template.is_some());

    let glued = problem(
        "[apps.a]\nname = \"A\"\nauth = \"api_key\"\ninject.query.k = \"{api_key}\"\nbase_url = \"{sub}.x.example\"\nconnect.sub = { label = \"S\" }",
    );
    assert!(glued.contains("field `base_url`: a templated base URL starts with `https://`"), "{glued}");
    let undeclared = problem("[apps.a]\nname = \"A\"\nauth = \"api_key\"\ninject.query.k = \"{api_key}\"\nbase_url = \"https://{sub}.x.example\"");
    assert!(undeclared.contains("unknown placeholder `{sub}`"), "{undeclared}");
    let category =
        problem("[apps.a]\nname = \"A\"\nauth = \"basic\"\nbase_url = \"http://x\"\ncategory = \"crms\"");
    assert!(category.contains("field `category`: `crms` is not a category"), "{category}");
}

#[test]
fn operator_layers_override_built_in_fields_and_clients_are_optional_there() {
    let builtin = r#"
        [apps.crm]
        name = "CRM"
        auth = "oauth2"
        base_url = "https://api.crm.example"
        oauth2 = { authorize_url = "https://crm.example/auth", token_url = "https://crm.example/token", scopes = ["a"], client_id = "${CRM_ID}", client_secret = "${CRM_SECRET}" }
    "#;
    let layers = |operator: &'static str| {
        vec![
            Layer { file: "catalog/apps/crm.toml".into(), source: builtin, builtin: true },
            Layer { file: "mine.toml".into(), source: operator, builtin: false },
        ]
    };
    let catalog = Catalog::parse_layers(&layers("[apps.crm]\nname = \"My CRM\""), |_| None).expect("loads");
    let crm = catalog.app("crm").expect("crm");
    assert_eq!(crm.name, "My CRM");
    assert!(
        crm.oauth2.as_ref().is_some_and(|o| o.default_client.is_none()),
        "no client without its variables"
    );
    let with_client = Catalog::parse_layers(&layers(""), |n| Some(format!("{n}-value"))).expect("loads");
    let client = with_client.app("crm").and_then(|a| a.oauth2.as_ref()?.default_client.clone());
    assert_eq!(client.map(|c| c.id), Some("CRM_ID-value".to_owned()));
    // The operator's own file still requires its variables, and errors name both files.
    let err = Catalog::parse_layers(&layers("[apps.crm.oauth2]\nclient_id = \"${NOPE}\""), |_| None)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(
            "catalog mine.toml: app `crm`: field `oauth2.client_id`: environment variable `NOPE` is not set"
        )
    );
    let merged_err = Catalog::parse_layers(&layers("[apps.crm]\nbase_url = \"ftp://x\""), |_| None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        merged_err.starts_with("catalog mine.toml (over catalog/apps/crm.toml): app `crm`: field `base_url`")
    );
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
