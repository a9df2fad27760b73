//! Helpers for the flows' native tests.

pub use crate::testing::{accounts, json, wire};

use super::{Config, Outcome, Step};
use crate::i18n::Lang;

/// An English SDK instance at `https://broker.example`; OAuth in a popup (`popup`) or by
/// redirect back to `https://app.example/settings`.
pub fn config(popup: bool) -> Config {
    Config {
        lang: Lang::En,
        popup,
        return_to: "https://app.example/settings".into(),
        broker_origin: "https://broker.example".into(),
    }
}

/// A one-line summary of each step, for assertions.
pub fn summary(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .map(|step| match step {
            Step::Show { focus, .. } => {
                format!("show{}", focus.as_deref().map(|f| format!(" focus {f}")).unwrap_or_default())
            }
            Step::Problems(list, summary) => format!(
                "problems [{}] {}",
                list.iter().map(|(id, m)| format!("{id}: {m}")).collect::<Vec<_>>().join("; "),
                summary.as_deref().unwrap_or("-")
            ),
            Step::Busy(on, label) => format!("busy {on} {label}"),
            Step::Filter(ids) => format!("filter {}", ids.join(" ")),
            Step::Text(id, text) => format!("text {id} {}", text.as_deref().unwrap_or("-")),
            Step::Send { tag, method, path, body, raw } => format!(
                "send {tag} {method} {path}{}{}",
                body.as_ref().map(|b| format!(" {}", b.to_text())).unwrap_or_default(),
                if *raw { " raw" } else { "" }
            ),
            Step::Popup(url) => format!("popup {url}"),
            Step::Navigate(url) => format!("navigate {url}"),
            Step::FocusPopup => "focus popup".into(),
            Step::ClosePopup => "close popup".into(),
            Step::Watch => "watch".into(),
            Step::Child(tag, _) => format!("child {tag}"),
            Step::Emit(kind, payload) => format!("emit {} {}", kind.name(), payload.to_text()),
            Step::Go(url) => format!("go {url}"),
            Step::Remember { attempt_id, app_id } => format!("remember {app_id} {attempt_id}"),
            Step::Forget => "forget".into(),
            Step::ReplaceUrl(url) => format!("replace {url}"),
            Step::Ready => "ready".into(),
            Step::Done(Ok(Outcome::Value(v))) => format!("done {}", v.to_text()),
            Step::Done(Ok(Outcome::Body(member))) => format!("done body {}", member.unwrap_or("-")),
            Step::Done(Ok(Outcome::Undefined)) => "done undefined".into(),
            Step::Done(Err(err)) => format!("done error {}", err.code),
        })
        .collect()
}

/// The markup of the last `Show` step.
pub fn shown(steps: &[Step]) -> String {
    steps
        .iter()
        .rev()
        .find_map(|step| match step {
            Step::Show { html, .. } => Some(html.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The nested flow of the first `Child` step.
pub fn child(steps: Vec<Step>) -> Box<dyn super::Flow> {
    for step in steps {
        if let Step::Child(_, flow) = step {
            return flow;
        }
    }
    panic!("no child flow")
}
