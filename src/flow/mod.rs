//! Every SDK operation as a state machine: the browser layer feeds it events (its own start, a
//! click, a broker answer, a message, a timer tick, a nested flow's end) and performs the
//! [`Step`]s it returns (show markup, send a request, open the popup…). All decisions live here,
//! in plain Rust tested natively; the executor in `web::run` only carries steps out.

mod app_page;
mod connect;
mod form;
mod function;
mod marketplace;
mod redirect;
mod request;
mod resume;

pub use app_page::AppPage;
pub use connect::Connect;
pub use function::FunctionForm;
pub use marketplace::Marketplace;
pub use redirect::CompleteRedirect;
pub use request::{Disconnect, Request};
pub use resume::Resume;

use crate::error::SdkError;
use crate::events::{EventKind, ModalKind};
use crate::i18n::Lang;
use crate::json::Json;

/// How a flow ends, when it succeeds.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Resolve with this value.
    Value(Json),
    /// Resolve with the last answer's body as the broker sent it (or one of its members):
    /// nothing is copied through the wasm module.
    Body(Option<&'static str>),
    /// Resolve with `undefined`.
    Undefined,
}

/// One thing for the executor to do.
pub enum Step {
    /// Show `html` in the flow's surface (opening it first) and focus the element `focus`, or
    /// the surface's default element.
    Show { html: String, focus: Option<String> },
    /// Show form problems (`(element id, message)`) and the form's summary line.
    Problems(Vec<(String, String)>, Option<String>),
    /// Put the submit button in (or out of) its pending state, with this label.
    Busy(bool, String),
    /// Show only the marketplace tiles of these apps (the others stay rendered, hidden).
    Filter(Vec<String>),
    /// Set the text of the element `id` and show it (`None`: hide it).
    Text(&'static str, Option<String>),
    /// Send a request to the broker; the answer comes back through [`Flow::reply`] with `tag`.
    /// `raw`: the body is only needed as the promise's value (see [`Outcome::Body`]).
    Send { tag: u32, method: &'static str, path: String, body: Option<Json>, raw: bool },
    /// Open (or reopen) the OAuth popup at this URL, now, inside the current click; a blocked
    /// popup comes back through [`Flow::blocked`].
    Popup(String),
    /// Navigate the open popup.
    Navigate(String),
    /// Bring the open popup to the front.
    FocusPopup,
    /// Close the popup (the sign-in could not start).
    ClosePopup,
    /// Start reporting `message` events ([`Flow::message`]) and a tick every second with the
    /// popup's `closed` hint ([`Flow::tick`]).
    Watch,
    /// Run a nested flow; its end comes back through [`Flow::child`] with `tag`.
    Child(u32, Box<dyn Flow>),
    /// Emit a host event.
    Emit(EventKind, Json),
    /// Leave the page for this URL (redirect mode).
    Go(String),
    /// Keep this OAuth attempt in the tab's session storage (stamped with the current time), so
    /// a reloaded page resumes it ([`Resume`]).
    Remember { attempt_id: String, app_id: String },
    /// Forget the stored attempt.
    Forget,
    /// Replace the address bar's URL (`history.replaceState`).
    ReplaceUrl(String),
    /// Settle the promise now but keep the flow running (a rendered marketplace); from then on,
    /// connects and disconnects made by other flows arrive as the action `accounts-changed`.
    Ready,
    /// End the flow (closing its surface and popup) and settle its promise.
    Done(Result<Outcome, SdkError>),
}

impl Step {
    /// A `GET` whose parsed answer comes back to [`Flow::reply`] with `tag`.
    pub fn get(tag: u32, path: String) -> Step {
        Step::Send { tag, method: "GET", path, body: None, raw: false }
    }
}

/// An SDK operation.
pub trait Flow {
    /// The surface's `data-patchbay` name and whether it is a modal dialog.
    fn surface(&self) -> (&'static str, bool) {
        ("", true)
    }

    /// The first steps.
    fn start(&mut self) -> Vec<Step>;

    /// A click on a `data-action` element, a form submission (`submit`) or Esc (`cancel`);
    /// `values` are the form's controls by element id.
    fn action(&mut self, _name: &str, _id: Option<&str>, _values: &Json) -> Vec<Step> {
        Vec::new()
    }

    /// The answer to `Send { tag }`.
    fn reply(&mut self, tag: u32, reply: Result<Json, SdkError>) -> Vec<Step>;

    /// A `message` event (after [`Step::Watch`]).
    fn message(&mut self, _origin: &str, _data: &Json) -> Vec<Step> {
        Vec::new()
    }

    /// A tick (after [`Step::Watch`]) with the popup's `closed` (a hint only).
    fn tick(&mut self, _popup_closed: bool) -> Vec<Step> {
        Vec::new()
    }

    /// A [`Step::Popup`] was blocked by the browser.
    fn blocked(&mut self) -> Vec<Step> {
        Vec::new()
    }

    /// A nested flow ended.
    fn child(&mut self, _tag: u32, _result: Result<Json, SdkError>) -> Vec<Step> {
        Vec::new()
    }
}

/// What flows that connect apps need to know about the SDK instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Interface language.
    pub lang: Lang,
    /// OAuth apps connect in a popup (else by redirect).
    pub popup: bool,
    /// Redirect mode's return URL.
    pub return_to: String,
    /// The broker's origin (its callback page's messages carry it).
    pub broker_origin: String,
}

/// `modal-closed`'s payload.
pub fn closed(modal: ModalKind, key: &str, value: &str) -> Step {
    Step::Emit(
        EventKind::ModalClosed,
        Json::object(vec![("modal", Json::text(modal.name())), (key, Json::text(value))]),
    )
}

/// Ends the flow with `result`.
pub fn done(result: Result<Outcome, SdkError>) -> Vec<Step> {
    vec![Step::Done(result)]
}

/// The status-line text for a nested flow's failure (`None` for a cancel).
pub fn describe(lang: Lang, err: &SdkError) -> Option<String> {
    use crate::i18n::{text, Text};
    use patchbay_protocol::ErrorCode;
    let key = match err.code {
        ErrorCode::UserCancelled => return None,
        ErrorCode::PopupBlocked => Text::PopupBlockedHint,
        ErrorCode::Network => Text::NetworkError,
        _ => Text::GenericError,
    };
    Some(text(lang, key).to_owned())
}

#[cfg(test)]
pub(crate) mod testing;
