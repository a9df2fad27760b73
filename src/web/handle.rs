//! The adapter between a [`Flow`] and the executor in `js/ui.js`: one entry point, `on(event,
//! …)`, answering `[steps as JSON text, ...values]` (`["show", html, focus, kind, modal]`,
//! `["send", tag, method, url, token, body, raw]`…; a step names a value — a nested flow, an
//! error, a result — by its index). Events for the host (`Step::Emit`) are dispatched here.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::client::{Inner, Patchbay};
use super::convert::{error_to_js, js_to_json, json_to_js};
use super::ui::get;
use crate::error::{error_code, SdkError};
use crate::events::EventKind;
use crate::flow::{Flow, Outcome, Step};
use crate::json::Json;

/// What a successful end resolves with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The flow's value.
    Value,
    /// `Patchbay.init`: the app list is kept and the promise resolves with the SDK instance.
    Init,
}

/// A flow being driven by `js/ui.js` (not part of the public API).
#[wasm_bindgen(skip_typescript)]
pub struct FlowHandle {
    inner: Rc<Inner>,
    flow: RefCell<Box<dyn Flow>>,
    finish: Finish,
    /// The last raw answer (see [`Outcome::Body`]).
    body: RefCell<JsValue>,
}

fn s(text: &str) -> Json {
    Json::text(text)
}

fn opt(text: Option<String>) -> Json {
    text.map_or(Json::Null, Json::String)
}

impl FlowHandle {
    /// A handle for `flow`, as the JavaScript value `run` takes.
    pub fn wrap(inner: &Rc<Inner>, flow: Box<dyn Flow>, finish: Finish) -> JsValue {
        FlowHandle {
            inner: inner.clone(),
            flow: RefCell::new(flow),
            finish,
            body: RefCell::new(JsValue::UNDEFINED),
        }
        .into()
    }

    fn encode(&self, steps: Vec<Step>) -> Vec<JsValue> {
        let mut values = vec![JsValue::UNDEFINED];
        let mut list = Vec::with_capacity(steps.len());
        for step in steps {
            let mut index = |value: JsValue| {
                values.push(value);
                Json::Number((values.len() - 1) as f64)
            };
            list.push(Json::Array(match step {
                Step::Show { html, focus } => {
                    let (kind, modal) = self.flow.borrow().surface();
                    vec![s("show"), Json::String(html), opt(focus), s(kind), Json::Bool(modal)]
                }
                Step::Problems(problems, summary) => {
                    let mut pairs = Vec::with_capacity(problems.len());
                    for (id, message) in problems {
                        pairs.push(Json::Array(vec![Json::String(id), Json::String(message)]));
                    }
                    vec![s("problems"), Json::Array(pairs), opt(summary)]
                }
                Step::Busy(on, label) => vec![s("busy"), Json::Bool(on), Json::String(label)],
                Step::Text(id, text) => vec![s("text"), s(id), opt(text)],
                Step::Send { tag, method, path, body, raw } => vec![
                    s("send"),
                    Json::Number(f64::from(tag)),
                    s(method),
                    Json::String(self.inner.broker.endpoint(&path)),
                    s(&self.inner.token),
                    body.unwrap_or_default(),
                    Json::Bool(raw),
                ],
                Step::Popup(url) => vec![s("popup"), Json::String(url)],
                Step::Navigate(url) => vec![s("navigate"), Json::String(url)],
                Step::Watch => vec![s("watch")],
                Step::Child(tag, flow) => {
                    vec![
                        s("child"),
                        Json::Number(f64::from(tag)),
                        index(FlowHandle::wrap(&self.inner, flow, Finish::Value)),
                    ]
                }
                Step::Emit(kind, payload) => {
                    self.inner.emit(kind, &json_to_js(&payload));
                    if !matches!(kind, EventKind::AppConnected | EventKind::AppDisconnected) {
                        continue;
                    }
                    // Rendered marketplaces elsewhere on the page reload their tiles.
                    vec![s("changed")]
                }
                Step::Go(url) => vec![s("go"), Json::String(url)],
                Step::ReplaceUrl(url) => vec![s("replace"), Json::String(url)],
                Step::Ready => vec![s("ready")],
                Step::Done(Ok(outcome)) => vec![s("ok"), index(self.value(outcome))],
                Step::Done(Err(err)) => vec![s("fail"), index(error_to_js(&err))],
            }));
        }
        values[0] = JsValue::from_str(&Json::Array(list).to_text());
        values
    }

    fn value(&self, outcome: Outcome) -> JsValue {
        match (outcome, self.finish) {
            (Outcome::Value(apps), Finish::Init) => {
                *self.inner.apps.borrow_mut() = apps.as_array().unwrap_or_default().to_vec();
                Patchbay::from_inner(self.inner.clone()).into()
            }
            (Outcome::Value(value), _) => json_to_js(&value),
            (Outcome::Body(None), _) => self.body.borrow().clone(),
            (Outcome::Body(Some(member)), _) => get(&self.body.borrow(), member),
            (Outcome::Undefined, _) => JsValue::UNDEFINED,
        }
    }

    /// A request's answer: status (0: the broker could not be reached, `body` then says why)
    /// and parsed body (`undefined` when it is not JSON).
    fn answer(&self, status: f64, body: JsValue, raw: bool) -> Result<Json, SdkError> {
        if status == 0.0 {
            Err(SdkError::network(&body.as_string().unwrap_or_default()))
        } else if !(200.0..300.0).contains(&status) {
            Err(SdkError::from_http(status as u16, &js_to_json(&body)))
        } else if body.is_undefined() {
            Err(SdkError::internal("the broker's answer is not JSON"))
        } else if raw {
            *self.body.borrow_mut() = body;
            Ok(Json::Null)
        } else {
            Ok(js_to_json(&body))
        }
    }
}

#[wasm_bindgen]
impl FlowHandle {
    /// An event for the flow: 0 start; 1 action (name, id, form values); 2 reply (tag, status,
    /// body, raw); 3 message (origin, data); 4 tick (popup closed); 5 popup blocked; 6 nested
    /// flow ended (tag, ok, value or error). Action `accounts-changed`: another flow on the page
    /// connected or disconnected an account.
    pub fn on(&self, event: u32, a: JsValue, b: JsValue, c: JsValue, d: JsValue) -> Vec<JsValue> {
        let tag = a.as_f64().unwrap_or_default() as u32;
        let steps = match event {
            0 => self.flow.borrow_mut().start(),
            1 => {
                let (name, id) = (a.as_string().unwrap_or_default(), b.as_string());
                self.flow.borrow_mut().action(&name, id.as_deref(), &js_to_json(&c))
            }
            2 => {
                let result = self.answer(b.as_f64().unwrap_or_default(), c, d.is_truthy());
                self.flow.borrow_mut().reply(tag, result)
            }
            3 => self.flow.borrow_mut().message(&a.as_string().unwrap_or_default(), &js_to_json(&b)),
            4 => self.flow.borrow_mut().tick(a.is_truthy()),
            5 => self.flow.borrow_mut().blocked(),
            _ => {
                let result = if b.is_truthy() {
                    Ok(js_to_json(&c))
                } else {
                    let code = error_code(&get(&c, "code").as_string().unwrap_or_default());
                    Err(SdkError::new(
                        code.unwrap_or(patchbay_protocol::ErrorCode::Internal),
                        "a nested flow failed",
                    ))
                };
                self.flow.borrow_mut().child(tag, result)
            }
        };
        self.encode(steps)
    }
}
