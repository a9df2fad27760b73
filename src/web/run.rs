//! The executor: runs a [`Flow`] by carrying out each [`Step`] it returns (its surface, broker
//! requests, the OAuth popup, the `message` listener and the tick, history, navigation, nested
//! flows) and feeding back what happened. No decisions are made here.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use web_sys::{AbortController, Element, MessageEvent, Window};

use super::broker::{self, Answer};
use super::client::{resume_pending, Inner, Patchbay};
use super::convert::{error_to_js, from_js, guard, listener, run_guarded, to_js};
use super::pending;
use super::surface::Surface;
use crate::error::SdkError;
use crate::events::EventKind;
use crate::flow::{Flow, Outcome, Step};
use crate::json::Json;

/// The OAuth popup's window name: Reopen reuses the same window.
const POPUP_NAME: &str = "patchbay-oauth";
const POPUP_FEATURES: &str = "popup,width=520,height=720";
/// How often the popup's `closed` hint is read.
const TICK_MS: i32 = 1000;

/// What a successful end resolves with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The flow's value.
    Value,
    /// `Patchbay.init`: the app list is kept and the promise resolves with the SDK instance.
    Init,
}

/// Where a run's end goes.
enum Settle {
    /// An operation's promise.
    Promise { resolve: Function, reject: Function },
    /// The flow that started this one as a nested flow ([`Step::Child`]).
    Parent { parent: Rc<Run>, tag: u32 },
}

/// What a running flow holds in the page.
#[derive(Default)]
struct Held {
    done: bool,
    surface: Option<Surface>,
    popup: Option<Window>,
    requests: Vec<AbortController>,
    interval: Option<i32>,
    on_message: Option<Function>,
    /// The last raw answer (see [`Outcome::Body`]).
    body: JsValue,
}

/// A flow being run.
pub struct Run {
    inner: Rc<Inner>,
    flow: RefCell<Box<dyn Flow>>,
    finish: Finish,
    /// Where an inline surface goes.
    container: Option<Element>,
    /// The flow that started this one, if nested.
    parent: Option<Weak<Run>>,
    /// The operation's reject function: a panic anywhere in the run settles through it.
    reject: Function,
    settle: RefCell<Option<Settle>>,
    held: RefCell<Held>,
}

thread_local! {
    /// Every run that has not ended (listeners and timers only hold weak references).
    static RUNNING: RefCell<Vec<Rc<Run>>> = const { RefCell::new(Vec::new()) };
    /// Rendered marketplaces that follow connects and disconnects made by other flows.
    static FOLLOWERS: RefCell<Vec<Weak<Run>>> = const { RefCell::new(Vec::new()) };
    /// Inline surfaces by container: rendering again into a container replaces the earlier one.
    static INLINE: RefCell<Vec<(Element, Weak<Run>)>> = const { RefCell::new(Vec::new()) };
}

fn window() -> Window {
    web_sys::window().expect_throw("the Patchbay SDK needs a window")
}

/// Runs `flow` until it settles; the promise of the operation.
pub fn start(inner: &Rc<Inner>, flow: Box<dyn Flow>, finish: Finish, container: Option<Element>) -> Promise {
    let mut functions = None;
    let promise = Promise::new(&mut |resolve, reject| functions = Some((resolve, reject)));
    let Some((resolve, reject)) = functions else { return promise };
    let run = Rc::new(Run {
        inner: inner.clone(),
        flow: RefCell::new(flow),
        finish,
        container,
        parent: None,
        reject: reject.clone(),
        settle: RefCell::new(Some(Settle::Promise { resolve, reject })),
        held: RefCell::default(),
    });
    // Through a guard, so a panic in the flow's first steps rejects this promise; the steps
    // still run now, inside the caller's click.
    let first = run.clone();
    run_guarded(move || first.begin(), &run.reject);
    promise
}

impl Run {
    fn begin(self: &Rc<Self>) {
        RUNNING.with(|running| running.borrow_mut().push(self.clone()));
        self.on(|flow| flow.start());
    }

    fn is_done(&self) -> bool {
        self.held.borrow().done
    }

    /// Feeds the flow one event and carries out the steps it returns.
    fn on(self: &Rc<Self>, event: impl FnOnce(&mut dyn Flow) -> Vec<Step>) {
        if self.is_done() {
            return;
        }
        let steps = event(&mut **self.flow.borrow_mut());
        for step in steps {
            if self.is_done() {
                return;
            }
            self.apply(step);
        }
    }

    /// A click, a submission or Esc on the surface, with the form's values.
    fn action(self: &Rc<Self>, name: &str, id: Option<String>) {
        let values = self.held.borrow().surface.as_ref().map(Surface::values).unwrap_or_default();
        self.on(|flow| flow.action(name, id.as_deref(), &values));
    }

    fn with_surface(&self, f: impl FnOnce(&Surface)) {
        if let Some(surface) = &self.held.borrow().surface {
            f(surface);
        }
    }

    fn apply(self: &Rc<Self>, step: Step) {
        match step {
            Step::Show { html, focus } => {
                if self.held.borrow().surface.is_none() {
                    if let Err(err) = self.open_surface() {
                        let cause = err.as_string().unwrap_or_else(|| "the DOM refused".into());
                        return self.end(Err(SdkError::internal(&cause)));
                    }
                }
                self.with_surface(|s| s.show(&html, focus.as_deref()));
            }
            Step::Problems(list, summary) => self.with_surface(|s| s.problems(&list, summary.as_deref())),
            Step::Busy(on, label) => self.with_surface(|s| s.busy(on, &label)),
            Step::Filter(shown) => self.with_surface(|s| s.filter(&shown)),
            Step::Text(id, text) => self.with_surface(|s| s.set_text(id, text.as_deref())),
            Step::Send { tag, method, path, body, raw } => self.send(tag, method, &path, body, raw),
            Step::Popup(url) => {
                let opened = window().open_with_url_and_target_and_features(&url, POPUP_NAME, POPUP_FEATURES);
                match opened.ok().flatten() {
                    Some(popup) => self.held.borrow_mut().popup = Some(popup),
                    None => self.on(|flow| flow.blocked()),
                }
            }
            Step::Navigate(url) => {
                if let Some(popup) = &self.held.borrow().popup {
                    let _ = popup.location().set_href(&url);
                }
            }
            Step::ClosePopup => {
                if let Some(popup) = self.held.borrow_mut().popup.take() {
                    let _ = popup.close();
                }
            }
            Step::FocusPopup => {
                if let Some(popup) = &self.held.borrow().popup {
                    let _ = popup.focus();
                }
            }
            Step::Watch => self.watch(),
            Step::Child(tag, flow) => {
                let child = Rc::new(Run {
                    inner: self.inner.clone(),
                    flow: RefCell::new(flow),
                    finish: Finish::Value,
                    container: self.container.clone(),
                    parent: Some(Rc::downgrade(self)),
                    reject: self.reject.clone(),
                    settle: RefCell::new(Some(Settle::Parent { parent: self.clone(), tag })),
                    held: RefCell::default(),
                });
                child.begin();
            }
            Step::Emit(kind, payload) => {
                self.inner.emit(kind, &to_js(&payload));
                if matches!(kind, EventKind::AppConnected | EventKind::AppDisconnected) {
                    accounts_changed(self);
                }
            }
            Step::Go(url) => {
                let _ = window().location().assign(&url);
            }
            Step::Remember { attempt_id, app_id } => pending::remember(&attempt_id, &app_id),
            Step::Forget => pending::forget(),
            Step::ReplaceUrl(url) => {
                if let Ok(history) = window().history() {
                    let state = history.state().unwrap_or(JsValue::NULL);
                    let _ = history.replace_state_with_url(&state, "", Some(&url));
                }
            }
            Step::Ready => {
                FOLLOWERS.with(|f| f.borrow_mut().push(Rc::downgrade(self)));
                if let Some(Settle::Promise { resolve, .. }) = self.settle.borrow_mut().take() {
                    let _ = resolve.call1(&JsValue::UNDEFINED, &JsValue::UNDEFINED);
                }
            }
            Step::Done(result) => self.end(result),
        }
    }

    fn open_surface(self: &Rc<Self>) -> Result<(), JsValue> {
        let (kind, modal) = self.flow.borrow().surface();
        if !modal {
            if let Some(container) = &self.container {
                replace_inline(container, self);
            }
        }
        let weak = Rc::downgrade(self);
        let on_action = Box::new(move |name: &str, id: Option<String>| {
            if let Some(run) = weak.upgrade() {
                run.action(name, id);
            }
        });
        let surface =
            Surface::open(kind, modal, self.inner.theme, self.container.as_ref(), on_action, &self.reject)?;
        self.held.borrow_mut().surface = Some(surface);
        Ok(())
    }

    fn send(self: &Rc<Self>, tag: u32, method: &'static str, path: &str, body: Option<Json>, raw: bool) {
        let Ok(controller) = AbortController::new() else {
            return self.on(|flow| flow.reply(tag, Err(SdkError::network("fetch is unavailable"))));
        };
        let signal = controller.signal();
        self.held.borrow_mut().requests.push(controller);
        let url = self.inner.broker.endpoint(path);
        let token = self.inner.token.clone();
        let run = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let answer = broker::send(method, &url, &token, body.as_ref(), &signal).await;
            let reject = run.reject.clone();
            run_guarded(move || run.reply(tag, answer, raw), &reject);
        });
    }

    /// A request's answer, checked and handed to the flow.
    fn reply(self: &Rc<Self>, tag: u32, answer: Answer, raw: bool) {
        if self.is_done() {
            return;
        }
        let result = match answer {
            Answer::Unreachable(cause) => Err(SdkError::network(&cause)),
            Answer::Http(status, body) if !(200..300).contains(&status) => {
                Err(SdkError::from_http(status, &from_js(&body).unwrap_or_default()))
            }
            Answer::Http(_, body) if body.is_undefined() => {
                Err(SdkError::internal("the broker's answer is not JSON"))
            }
            Answer::Http(_, body) if raw => {
                self.held.borrow_mut().body = body;
                Ok(Json::Null)
            }
            Answer::Http(_, body) => {
                from_js(&body).ok_or_else(|| SdkError::internal("the broker's answer is not JSON"))
            }
        };
        self.on(|flow| flow.reply(tag, result));
    }

    /// `message` events and a tick with the popup's `closed` hint, until the flow ends.
    fn watch(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let on_message = listener(
            &window(),
            "message",
            move |event: MessageEvent| {
                if let Some(run) = weak.upgrade() {
                    let data = from_js(&event.data()).unwrap_or_default();
                    run.on(|flow| flow.message(&event.origin(), &data));
                }
            },
            &self.reject,
        );
        let weak = Rc::downgrade(self);
        let tick = Closure::<dyn FnMut()>::new(move || {
            if let Some(run) = weak.upgrade() {
                // A popup cut from its opener (COOP) reads as closed: a hint, never proof.
                let closed = run.held.borrow().popup.as_ref().is_none_or(|p| p.closed().unwrap_or(true));
                run.on(|flow| flow.tick(closed));
            }
        });
        let tick = guard(&tick.into_js_value(), &self.reject);
        let interval = window().set_interval_with_callback_and_timeout_and_arguments_0(&tick, TICK_MS).ok();
        let mut held = self.held.borrow_mut();
        held.on_message = on_message.ok();
        held.interval = interval;
    }

    /// Ends the run: releases what it holds in the page and settles.
    fn end(self: &Rc<Self>, result: Result<Outcome, SdkError>) {
        let body = {
            let mut held = self.held.borrow_mut();
            held.done = true;
            for request in held.requests.drain(..) {
                request.abort();
            }
            if let Some(interval) = held.interval.take() {
                window().clear_interval_with_handle(interval);
            }
            if let Some(on_message) = held.on_message.take() {
                let _ = window().remove_event_listener_with_callback("message", &on_message);
            }
            if let Some(popup) = held.popup.take() {
                let _ = popup.close();
            }
            if let Some(surface) = held.surface.as_ref().filter(|s| s.is_modal()) {
                surface.close();
            }
            std::mem::take(&mut held.body)
        };
        RUNNING.with(|running| running.borrow_mut().retain(|run| !Rc::ptr_eq(run, self)));
        let settle = self.settle.borrow_mut().take();
        match settle {
            Some(Settle::Promise { resolve, reject }) => {
                let _ = match result {
                    Ok(outcome) => resolve.call1(&JsValue::UNDEFINED, &self.value(outcome, body)),
                    Err(err) => reject.call1(&JsValue::UNDEFINED, &error_to_js(&err)),
                };
                if self.finish == Finish::Init {
                    resume_pending(&self.inner);
                }
            }
            Some(Settle::Parent { parent, tag }) => {
                let result = result.map(|outcome| from_js(&self.value(outcome, body)).unwrap_or_default());
                parent.on(|flow| flow.child(tag, result));
            }
            None => {}
        }
    }

    /// What a successful end resolves with.
    fn value(&self, outcome: Outcome, body: JsValue) -> JsValue {
        match (outcome, self.finish) {
            (Outcome::Value(apps), Finish::Init) => {
                *self.inner.apps.borrow_mut() = apps.as_array().unwrap_or_default().to_vec();
                Patchbay::from_inner(self.inner.clone()).into()
            }
            (Outcome::Value(value), _) => to_js(&value),
            (Outcome::Body(None), _) => body,
            (Outcome::Body(Some(member)), _) => {
                js_sys::Reflect::get(&body, &member.into()).unwrap_or_default()
            }
            (Outcome::Undefined, _) => JsValue::UNDEFINED,
        }
    }

    /// Whether `self` is `other` or started it (directly or not).
    fn started(&self, other: &Rc<Run>) -> bool {
        let mut current = Some(other.clone());
        while let Some(run) = current {
            if std::ptr::eq(&*run, self) {
                return true;
            }
            current = run.parent.as_ref().and_then(Weak::upgrade);
        }
        false
    }
}

/// An inline surface going into `container` ends the run shown there before.
fn replace_inline(container: &Element, run: &Rc<Run>) {
    let earlier = INLINE.with(|inline| {
        let mut inline = inline.borrow_mut();
        inline.retain(|(_, r)| r.strong_count() > 0);
        let earlier: Vec<_> =
            inline.iter().filter(|(c, _)| c == container).filter_map(|(_, r)| r.upgrade()).collect();
        inline.retain(|(c, _)| c != container);
        inline.push((container.clone(), Rc::downgrade(run)));
        earlier
    });
    for old in earlier {
        if let Some(surface) = old.held.borrow_mut().surface.take() {
            surface.close();
        }
        old.end(Ok(Outcome::Undefined));
    }
}

/// A connect or disconnect by `origin`: rendered marketplaces reload, except the one that made
/// it (it reloads after its own nested flows anyway); one whose container was removed ends.
fn accounts_changed(origin: &Rc<Run>) {
    let followers: Vec<Rc<Run>> = FOLLOWERS.with(|f| {
        let mut f = f.borrow_mut();
        f.retain(|r| r.upgrade().is_some_and(|r| !r.is_done()));
        f.iter().filter_map(Weak::upgrade).collect()
    });
    for follower in followers {
        let attached = follower.held.borrow().surface.as_ref().is_some_and(Surface::is_attached);
        if !attached {
            follower.end(Ok(Outcome::Undefined));
        } else if !follower.started(origin) {
            follower.on(|flow| flow.action("accounts-changed", None, &Json::Null));
        }
    }
}
