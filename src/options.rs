//! Validation of the options objects the SDK takes (`Patchbay.init`, `renderMarketplace`, and
//! the optional account / cursor argument), reporting every bad option at once as
//! `INVALID_OPTIONS` with `details.fields`.

use patchbay_protocol::FieldError;

use crate::address::{check_http_url, BrokerUrl, UrlError};
use crate::error::SdkError;
use crate::i18n::Lang;
use crate::theme::Theme;

/// The options `Patchbay.init` knows.
pub const INIT_OPTIONS: [&str; 6] = ["brokerUrl", "sessionToken", "lang", "oauthMode", "returnTo", "theme"];

/// One option as the caller passed it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OptionValue {
    /// Absent or `undefined`.
    #[default]
    Missing,
    /// A string.
    Text(String),
    /// Something else (its `typeof`).
    Other(String),
}

// An option is read through serde (from a JavaScript value by serde-wasm-bindgen): a string is
// the option, anything else is named by its kind for the error message.
impl<'de> serde::Deserialize<'de> for OptionValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OptionVisitor)
    }
}

struct OptionVisitor;

impl OptionVisitor {
    fn other<E>(kind: &str) -> Result<OptionValue, E> {
        Ok(OptionValue::Other(kind.to_owned()))
    }
}

impl<'de> serde::de::Visitor<'de> for OptionVisitor {
    type Value = OptionValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an option value")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OptionValue, E> {
        Ok(OptionValue::Text(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<OptionValue, E> {
        Ok(OptionValue::Text(v))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<OptionValue, E> {
        Ok(OptionValue::Missing)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<OptionValue, E> {
        Self::other("boolean")
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<OptionValue, E> {
        Self::other("number")
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<OptionValue, E> {
        Self::other("number")
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<OptionValue, E> {
        Self::other("number")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<OptionValue, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Self::other("array")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<OptionValue, A::Error> {
        while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
        Self::other("object")
    }
}

/// Why an option is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionProblem {
    /// A required option is absent.
    #[error("is required")]
    Missing,
    /// Not a string.
    #[error("must be a string, not {0}")]
    NotAString(String),
    /// An unknown key (a typo such as `brokerURL`).
    #[error("is not an option here (known: {0})")]
    Unknown(&'static str),
    /// A bad URL.
    #[error("{0}")]
    Url(#[from] UrlError),
    /// An empty or malformed session token.
    #[error("must be a non-empty token without spaces")]
    BadToken,
    /// A language the SDK does not speak.
    #[error("is not supported (use en, es, fr, ja or pt-BR)")]
    UnsupportedLang,
    /// A value outside a fixed list.
    #[error("must be one of: {0}")]
    NotOneOf(&'static str),
    /// Two spellings of one option with different values.
    #[error("conflicts with connectedAccountId")]
    Conflict,
}

/// How OAuth apps are connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OAuthMode {
    /// A popup opened inside the caller's click (the default).
    #[default]
    Popup,
    /// A full-page redirect to the provider and back to `returnTo`.
    Redirect,
}

/// `Patchbay.init`'s options, as passed.
#[derive(Debug, Clone, Default)]
pub struct RawInit {
    /// `brokerUrl`.
    pub broker_url: OptionValue,
    /// `sessionToken`.
    pub session_token: OptionValue,
    /// `lang`.
    pub lang: OptionValue,
    /// `oauthMode`.
    pub oauth_mode: OptionValue,
    /// `returnTo`.
    pub return_to: OptionValue,
    /// `theme`.
    pub theme: OptionValue,
    /// Keys that are not options.
    pub unknown: Vec<String>,
}

/// Valid `Patchbay.init` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOptions {
    /// The broker.
    pub broker: BrokerUrl,
    /// The session token.
    pub token: String,
    /// Interface language.
    pub lang: Lang,
    /// Popup or redirect.
    pub oauth_mode: OAuthMode,
    /// Redirect mode's return URL (default: the current page).
    pub return_to: Option<String>,
    /// The surfaces' colour scheme.
    pub theme: Theme,
}

struct Problems(Vec<FieldError>);

impl Problems {
    fn add(&mut self, field: &str, problem: OptionProblem) {
        self.0.push(FieldError { field: field.to_owned(), reason: problem.to_string() });
    }

    /// A string option; `None` (and a problem when required) otherwise.
    fn text(&mut self, field: &str, value: OptionValue, required: bool) -> Option<String> {
        match value {
            OptionValue::Text(s) => Some(s),
            OptionValue::Missing if required => {
                self.add(field, OptionProblem::Missing);
                None
            }
            OptionValue::Missing => None,
            OptionValue::Other(kind) => {
                self.add(field, OptionProblem::NotAString(kind));
                None
            }
        }
    }

    fn unknown(&mut self, keys: &[String], known: &'static str) {
        for key in keys {
            self.add(key, OptionProblem::Unknown(known));
        }
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, SdkError> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(SdkError::invalid_options(&self.0)),
        }
    }
}

/// Validates `Patchbay.init`'s options.
pub fn validate_init(raw: RawInit) -> Result<InitOptions, SdkError> {
    let mut p = Problems(Vec::new());
    let broker =
        p.text("brokerUrl", raw.broker_url, true).and_then(|url| match BrokerUrl::parse(url.trim()) {
            Ok(url) => Some(url),
            Err(err) => {
                p.add("brokerUrl", err.into());
                None
            }
        });
    let token = p.text("sessionToken", raw.session_token, true).and_then(|token| {
        if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            p.add("sessionToken", OptionProblem::BadToken);
            None
        } else {
            Some(token)
        }
    });
    let lang = match p.text("lang", raw.lang, false) {
        None => Lang::En,
        Some(tag) => Lang::parse(&tag).unwrap_or_else(|| {
            p.add("lang", OptionProblem::UnsupportedLang);
            Lang::En
        }),
    };
    let oauth_mode = match p.text("oauthMode", raw.oauth_mode, false).as_deref() {
        None | Some("popup") => OAuthMode::Popup,
        Some("redirect") => OAuthMode::Redirect,
        Some(_) => {
            p.add("oauthMode", OptionProblem::NotOneOf("\"popup\", \"redirect\""));
            OAuthMode::Popup
        }
    };
    let return_to = p.text("returnTo", raw.return_to, false);
    if let Some(Err(err)) = return_to.as_deref().map(check_http_url) {
        p.add("returnTo", err.into());
    }
    let theme = match p.text("theme", raw.theme, false) {
        None => Theme::default(),
        Some(name) => Theme::parse(&name).unwrap_or_else(|| {
            p.add("theme", OptionProblem::NotOneOf(Theme::NAMES));
            Theme::default()
        }),
    };
    p.unknown(&raw.unknown, "brokerUrl, sessionToken, lang, oauthMode, returnTo, theme");
    let options = broker.zip(token).map(|(broker, token)| InitOptions {
        broker,
        token,
        lang,
        oauth_mode,
        return_to,
        theme,
    });
    p.finish(options)
}

/// How `renderMarketplace` shows the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MarketplaceMode {
    /// The grid inside the container.
    #[default]
    Inline,
    /// A button inside the container that opens the grid in a modal.
    Modal,
}

/// Validates `renderMarketplace`'s `mode` and unknown keys (the container is checked by the DOM
/// layer, which can query it).
pub fn validate_marketplace(mode: OptionValue, unknown: &[String]) -> Result<MarketplaceMode, SdkError> {
    let mut p = Problems(Vec::new());
    let mode = match p.text("mode", mode, false).as_deref() {
        None | Some("inline") => Some(MarketplaceMode::Inline),
        Some("modal") => Some(MarketplaceMode::Modal),
        Some(_) => {
            p.add("mode", OptionProblem::NotOneOf("\"inline\", \"modal\""));
            None
        }
    };
    p.unknown(unknown, "container, mode");
    p.finish(mode)
}

/// The optional last argument of `disconnectApp`, `showFunctionUI` and `invokeFunction`: an
/// account id, or an options object (where both spellings of the id are accepted).
#[derive(Debug, Clone, Default)]
pub struct RawAccountArg {
    /// A plain string argument, or `connectedAccountId`.
    pub id: OptionValue,
    /// `connectedAccountID` (the seed documentation's spelling).
    pub id_upper: OptionValue,
    /// `cursor` (`invokeFunction` only).
    pub cursor: OptionValue,
    /// Other keys.
    pub unknown: Vec<String>,
}

/// The account (and page cursor) a call names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountArg {
    /// The connected account to act on.
    pub id: Option<String>,
    /// The page cursor from a previous `nextCursor`.
    pub cursor: Option<String>,
}

/// Validates the optional account argument; `accepts_cursor` for `invokeFunction`.
pub fn validate_account_arg(raw: RawAccountArg, accepts_cursor: bool) -> Result<AccountArg, SdkError> {
    let mut p = Problems(Vec::new());
    let id = p.text("connectedAccountId", raw.id, false);
    let upper = p.text("connectedAccountID", raw.id_upper, false);
    let id = match (id, upper) {
        (Some(a), Some(b)) if a != b => {
            p.add("connectedAccountID", OptionProblem::Conflict);
            None
        }
        (a, b) => a.or(b).filter(|id| !id.is_empty()),
    };
    let mut unknown = raw.unknown;
    let cursor = if accepts_cursor {
        p.text("cursor", raw.cursor, false)
    } else {
        if raw.cursor != OptionValue::Missing {
            unknown.push("cursor".into());
        }
        None
    };
    let known = if accepts_cursor {
        "connectedAccountId, connectedAccountID, cursor"
    } else {
        "connectedAccountId, connectedAccountID"
    };
    p.unknown(&unknown, known);
    p.finish(Some(AccountArg { id, cursor }))
}

#[cfg(test)]
mod tests {
    use patchbay_protocol::ErrorCode;

    use super::*;

    fn text(s: &str) -> OptionValue {
        OptionValue::Text(s.to_owned())
    }

    fn fields(err: &SdkError) -> Vec<(&str, &str)> {
        err.details.list_at("fields").iter().map(|f| (f.str_at("field"), f.str_at("reason"))).collect()
    }

    #[test]
    fn valid_init_options_are_normalised() {
        let options = validate_init(RawInit {
            broker_url: text(" https://broker.example/ "),
            session_token: text("pb_st_abc.def"),
            lang: text("pt-br"),
            theme: text("system"),
            ..Default::default()
        })
        .expect("valid");
        assert_eq!(options.broker.base, "https://broker.example");
        assert_eq!(options.lang, Lang::PtBr);
        assert_eq!(options.oauth_mode, OAuthMode::Popup);
        assert_eq!(options.theme, Theme::System);
    }

    #[test]
    fn every_bad_init_option_is_reported_at_once() {
        let err = validate_init(RawInit {
            broker_url: text("http://broker.example"),
            session_token: OptionValue::Other("number".into()),
            lang: text("de"),
            oauth_mode: text("tab"),
            return_to: text("/relative"),
            theme: text("sepia"),
            unknown: vec!["brokerURL".into()],
        })
        .expect_err("invalid");
        assert_eq!(err.code, ErrorCode::InvalidOptions);
        let names: Vec<&str> = fields(&err).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            names,
            ["brokerUrl", "sessionToken", "lang", "oauthMode", "returnTo", "theme", "brokerURL"]
        );
        assert_eq!(fields(&err)[5].1, "must be one of: light, dark, system");
        assert!(fields(&err)[0].1.contains("https"), "{:?}", fields(&err));
        assert_eq!(fields(&err)[1].1, "must be a string, not number");
    }

    #[test]
    fn missing_required_options_are_named() {
        let err = validate_init(RawInit::default()).expect_err("invalid");
        assert_eq!(fields(&err), [("brokerUrl", "is required"), ("sessionToken", "is required")]);
        let err = validate_init(RawInit {
            broker_url: text("https://b.example"),
            session_token: text("has space"),
            ..Default::default()
        })
        .expect_err("invalid");
        assert_eq!(fields(&err), [("sessionToken", "must be a non-empty token without spaces")]);
    }

    #[test]
    fn an_option_read_through_serde_is_a_string_or_named_by_its_kind() {
        let read = |json: &str| serde_json::from_str::<OptionValue>(json).expect("option");
        assert_eq!(read(r#""en""#), text("en"));
        assert_eq!(read("null"), OptionValue::Missing);
        assert_eq!(read("3"), OptionValue::Other("number".into()));
        assert_eq!(read("true"), OptionValue::Other("boolean".into()));
        assert_eq!(read(r#"{"a":[1]}"#), OptionValue::Other("object".into()));
        assert_eq!(read("[1,2]"), OptionValue::Other("array".into()));
    }

    #[test]
    fn marketplace_modes_are_checked() {
        assert_eq!(validate_marketplace(OptionValue::Missing, &[]), Ok(MarketplaceMode::Inline));
        assert_eq!(validate_marketplace(text("modal"), &[]), Ok(MarketplaceMode::Modal));
        assert!(validate_marketplace(text("popup"), &[]).is_err());
        assert!(validate_marketplace(OptionValue::Missing, &["size".into()]).is_err());
    }

    #[test]
    fn both_spellings_of_the_account_id_are_accepted() {
        let arg = |id: OptionValue, id_upper: OptionValue| {
            validate_account_arg(RawAccountArg { id, id_upper, ..Default::default() }, false)
        };
        assert_eq!(arg(text("ca_1"), OptionValue::Missing).map(|a| a.id), Ok(Some("ca_1".into())));
        assert_eq!(arg(OptionValue::Missing, text("ca_1")).map(|a| a.id), Ok(Some("ca_1".into())));
        assert_eq!(arg(text("ca_1"), text("ca_1")).map(|a| a.id), Ok(Some("ca_1".into())));
        assert!(arg(text("ca_1"), text("ca_2")).is_err());
        assert!(arg(OptionValue::Other("number".into()), OptionValue::Missing).is_err());
        let cursor = RawAccountArg { cursor: text("p2"), ..Default::default() };
        assert_eq!(validate_account_arg(cursor.clone(), true).map(|a| a.cursor), Ok(Some("p2".into())));
        assert!(validate_account_arg(cursor, false).is_err(), "only invokeFunction takes a cursor");
    }
}
