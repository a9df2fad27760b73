//! A flow's surface: a host element with an open shadow root, styled by the one constructable
//! stylesheet (so it works under `style-src 'self'`), with its click, submit and key listeners.
//!
//! Modal surfaces sit fixed over the page, keep focus inside (Tab / Shift+Tab wrap), report Esc
//! as the action `cancel`, and give focus back to where it was when they close. Inline surfaces
//! (the marketplace grid) go into the host's container.

use std::cell::RefCell;

use js_sys::{Array, Date, Function};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    CssStyleSheet, Document, Element, Event, HtmlElement, HtmlInputElement, KeyboardEvent, ShadowRoot,
    ShadowRootInit, ShadowRootMode,
};

use super::convert::listener;
use crate::json::Json;
use crate::theme::{readable_text_on, Theme};

/// What a surface's listeners report: an action name, the `data-id` of the element clicked.
pub type OnAction = Box<dyn Fn(&str, Option<String>)>;

const CSS: &str = include_str!("style.css");
const FOCUSABLE: &str = "button:not([disabled]),input:not([disabled]),select:not([disabled]),\
textarea:not([disabled]),a[href],[tabindex]:not([tabindex=\"-1\"])";

thread_local! {
    static SHEET: RefCell<Option<CssStyleSheet>> = const { RefCell::new(None) };
}

/// The stylesheet every surface adopts (built once).
fn sheet() -> Result<CssStyleSheet, JsValue> {
    SHEET.with(|cell| {
        if let Some(sheet) = &*cell.borrow() {
            return Ok(sheet.clone());
        }
        let sheet = CssStyleSheet::new()?;
        sheet.replace_sync(CSS)?;
        *cell.borrow_mut() = Some(sheet.clone());
        Ok(sheet)
    })
}

/// The document (the SDK only runs in a window).
pub fn document() -> Document {
    web_sys::window().and_then(|w| w.document()).expect_throw("the Patchbay SDK needs a document")
}

/// The focused element, looking through open shadow roots.
fn deep_focus() -> Option<HtmlElement> {
    let mut active = document().active_element()?;
    while let Some(inner) = active.shadow_root().and_then(|root| root.active_element()) {
        active = inner;
    }
    active.dyn_into().ok()
}

/// A shown surface.
pub struct Surface {
    host: HtmlElement,
    root: ShadowRoot,
    modal: bool,
    /// Where focus goes back to when a modal closes.
    restore: Option<HtmlElement>,
    /// The listeners (kept alive as long as the surface).
    _listeners: Vec<Function>,
}

impl Surface {
    /// Creates the surface named `kind` (`data-patchbay`): a modal appended to the body, or an
    /// inline one inside `container`. `on_action` runs inside the DOM event, so a popup it opens
    /// has the click's user gesture; `reject` settles the operation if a listener fails.
    pub fn open(
        kind: &str,
        modal: bool,
        theme: Theme,
        container: Option<&Element>,
        on_action: OnAction,
        reject: &Function,
    ) -> Result<Surface, JsValue> {
        let doc = document();
        let host: HtmlElement = doc.create_element("div")?.unchecked_into();
        host.set_class_name(if modal { "pb-modal" } else { "pb-inline" });
        host.class_list().add_1(theme.class())?;
        host.set_attribute("data-patchbay", kind)?;
        let root = host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?;
        js_sys::Reflect::set(&root, &"adoptedStyleSheets".into(), &Array::of1(&sheet()?.into()))?;

        let on_action = std::rc::Rc::new(on_action);
        let mut listeners = Vec::new();
        let act = on_action.clone();
        listeners.push(listener(
            &root,
            "click",
            move |event: Event| {
                let target = event.target().and_then(|t| t.dyn_into::<Element>().ok());
                if let Some(button) = target.and_then(|t| t.closest("[data-action]").ok().flatten()) {
                    let name = button.get_attribute("data-action").unwrap_or_default();
                    act(&name, button.get_attribute("data-id"));
                }
            },
            reject,
        )?);
        // Typing in the marketplace's search box, or choosing a category.
        for event in ["input", "change"] {
            let act = on_action.clone();
            listeners.push(listener(
                &root,
                event,
                move |event: Event| {
                    let target = event.target().and_then(|t| t.dyn_into::<Element>().ok());
                    if let Some(name) = target.and_then(|t| t.get_attribute("data-action")) {
                        act(&name, None);
                    }
                },
                reject,
            )?);
        }
        let act = on_action.clone();
        listeners.push(listener(
            &root,
            "submit",
            move |event: Event| {
                event.prevent_default();
                act("submit", None);
            },
            reject,
        )?);
        if modal {
            let trap_root = root.clone();
            listeners.push(listener(
                &root,
                "keydown",
                move |event: Event| {
                    let Some(key) = event.dyn_ref::<KeyboardEvent>() else { return };
                    match key.key().as_str() {
                        "Escape" => {
                            event.prevent_default();
                            event.stop_propagation();
                            on_action("cancel", None);
                        }
                        "Tab" => trap_tab(&trap_root, key),
                        _ => {}
                    }
                },
                reject,
            )?);
        }
        let restore = if modal { deep_focus() } else { None };
        match container {
            Some(container) if !modal => container.append_with_node_1(&host)?,
            _ => doc.body().expect_throw("the Patchbay SDK needs a body").append_with_node_1(&host)?,
        }
        Ok(Surface { host, root, modal, restore, _listeners: listeners })
    }

    /// Whether this is a modal dialog.
    pub fn is_modal(&self) -> bool {
        self.modal
    }

    /// Whether the host element is still in the document (a host may remove an inline one).
    pub fn is_attached(&self) -> bool {
        self.host.is_connected()
    }

    /// Replaces the markup, localises its dates and focuses `focus` (or the default element).
    pub fn show(&self, html: &str, focus: Option<&str>) {
        // Read again on each render: a host may change its brand while the SDK is shown.
        keep_accent_readable(&self.host);
        self.root.set_inner_html(html);
        self.paint_icons();
        self.localise_dates();
        self.focus_in(focus);
    }

    /// Removes the surface; a modal gives focus back to where it was.
    pub fn close(&self) {
        self.host.remove();
        if let Some(restore) = self.restore.as_ref().filter(|r| r.is_connected()) {
            let _ = restore.focus();
        }
    }

    fn by_id(&self, id: &str) -> Option<Element> {
        self.root.get_element_by_id(id)
    }

    fn all(&self, selector: &str) -> Vec<Element> {
        let mut out = Vec::new();
        if let Ok(list) = self.root.query_selector_all(selector) {
            for i in 0..list.length() {
                if let Some(element) = list.get(i).and_then(|n| n.dyn_into().ok()) {
                    out.push(element);
                }
            }
        }
        out
    }

    /// Focuses the element `id` (a fieldset: its first control), else the `data-autofocus`
    /// element, else (modals) the first focusable one.
    pub fn focus_in(&self, id: Option<&str>) {
        let mut target = id.and_then(|id| self.by_id(id));
        if let Some(fieldset) = target.as_ref().filter(|t| t.tag_name() == "FIELDSET") {
            target = fieldset.query_selector(FOCUSABLE).ok().flatten();
        }
        let target = target
            .or_else(|| self.root.query_selector("[data-autofocus]").ok().flatten())
            .or_else(|| if self.modal { visible(&self.root).into_iter().next() } else { None });
        if let Some(target) = target.and_then(|t| t.dyn_into::<HtmlElement>().ok()) {
            let _ = target.focus();
        }
    }

    /// App icons take their colours (`data-bg`, `data-fg`) through the CSSOM: a strict CSP
    /// refuses style attributes in markup. (The stylesheet draws their monogram as large bold
    /// text, for which 3:1 is enough contrast: a generated colour with black or white on it
    /// reaches 4.35:1 at worst, short of the 4.5:1 small text needs.)
    fn paint_icons(&self) {
        for icon in self.all("[data-bg]") {
            if let Some(icon) = icon.dyn_ref::<HtmlElement>() {
                let style = icon.style();
                let _ = style
                    .set_property("background-color", &icon.get_attribute("data-bg").unwrap_or_default());
                let _ = style.set_property("color", &icon.get_attribute("data-fg").unwrap_or_default());
            }
        }
    }

    /// Shows the marketplace tiles of `apps` only.
    pub fn filter(&self, apps: &[String]) {
        for tile in self.all("li[data-app-id]") {
            let id = tile.get_attribute("data-app-id").unwrap_or_default();
            let _ = if apps.contains(&id) {
                tile.remove_attribute("hidden")
            } else {
                tile.set_attribute("hidden", "")
            };
        }
    }

    /// `<time datetime>` elements show the date in the surface's language.
    fn localise_dates(&self) {
        for time in self.all("time[datetime]") {
            let date = Date::new(&time.get_attribute("datetime").unwrap_or_default().into());
            if date.get_time().is_nan() {
                continue;
            }
            // Every surface's markup carries its language (`lang`) on the dialog or grid.
            let lang = time.closest("[lang]").ok().flatten().and_then(|e| e.get_attribute("lang"));
            let shown = date.to_locale_date_string(lang.as_deref().unwrap_or("en"), &JsValue::UNDEFINED);
            time.set_text_content(shown.as_string().as_deref());
        }
    }

    /// Sets the text of the element `id` and shows it (`None`: empties and hides it).
    pub fn set_text(&self, id: &str, text: Option<&str>) {
        if let Some(element) = self.by_id(id).and_then(|e| e.dyn_into::<HtmlElement>().ok()) {
            element.set_text_content(Some(text.unwrap_or_default()));
            element.set_hidden(text.is_none());
        }
    }

    /// The form's controls by element id: booleans for checkboxes; for number inputs a number,
    /// `null` when empty or `"bad"` when not a number; strings otherwise.
    pub fn values(&self) -> Json {
        let mut members = Vec::new();
        for element in self.all("[name]") {
            let value = match element.dyn_ref::<HtmlInputElement>() {
                Some(input) if input.type_() == "checkbox" => Json::Bool(input.checked()),
                Some(input) if input.type_() == "number" => {
                    if input.validity().bad_input() {
                        Json::text("bad")
                    } else if input.value().trim().is_empty() {
                        Json::Null
                    } else {
                        Json::Number(input.value_as_number())
                    }
                }
                Some(input) => Json::String(input.value()),
                // <select> and <textarea>: both have a string `value`.
                None => Json::String(
                    js_sys::Reflect::get(&element, &"value".into())
                        .ok()
                        .and_then(|v| v.as_string())
                        .unwrap_or_default(),
                ),
            };
            members.push((element.id(), value));
        }
        Json::Object(members)
    }

    /// Shows form problems (`(element id, message)`) and the summary line, then focuses the
    /// first field in error (or the submit button).
    pub fn problems(&self, list: &[(String, String)], summary: Option<&str>) {
        for error in self.all(".error") {
            error.set_text_content(Some(""));
            let _ = error.set_attribute("hidden", "");
        }
        for invalid in self.all("[aria-invalid]") {
            let _ = invalid.remove_attribute("aria-invalid");
        }
        for (id, message) in list {
            self.set_text(&["e", id].concat(), Some(message));
            if let Some(control) = self.by_id(id).filter(|c| c.tag_name() != "FIELDSET") {
                let _ = control.set_attribute("aria-invalid", "true");
            }
        }
        self.set_text("pb-summary", summary);
        self.focus_in(Some(list.first().map_or("pb-submit", |(id, _)| id.as_str())));
    }

    /// Puts the submit button in (or out of) its pending state, with `label`.
    pub fn busy(&self, on: bool, label: &str) {
        if let Some(submit) = self.by_id("pb-submit") {
            submit.set_text_content(Some(label));
            let _ =
                if on { submit.set_attribute("disabled", "") } else { submit.remove_attribute("disabled") };
        }
        if let Ok(Some(form)) = self.root.query_selector("form") {
            let _ =
                if on { form.set_attribute("aria-busy", "true") } else { form.remove_attribute("aria-busy") };
        }
    }
}

/// A host that brands the SDK with `--patchbay-accent` but names no `--patchbay-accent-text`
/// gets black or white text on it, whichever reads better (set through the CSSOM, which a
/// `style-src 'self'` policy allows).
fn keep_accent_readable(host: &HtmlElement) {
    let Some(style) = web_sys::window().and_then(|w| w.get_computed_style(host).ok().flatten()) else {
        return;
    };
    let read = |name: &str| style.get_property_value(name).unwrap_or_default().trim().to_owned();
    let accent = read("--patchbay-accent");
    let chosen = if accent.is_empty() { None } else { readable_text_on(&accent) };
    let _ = match chosen {
        Some(text) => host.style().set_property(AUTO_ACCENT_TEXT, text),
        // The default accent's own text colour applies again.
        None => host.style().remove_property(AUTO_ACCENT_TEXT).map(drop),
    };
}

/// The stylesheet's fallback for `--patchbay-accent-text` (a host's own value always wins).
const AUTO_ACCENT_TEXT: &str = "--pb-on-accent-auto";

/// The focusable elements that are rendered (not inside a hidden part).
fn visible(root: &ShadowRoot) -> Vec<Element> {
    let mut out = Vec::new();
    if let Ok(list) = root.query_selector_all(FOCUSABLE) {
        for i in 0..list.length() {
            if let Some(element) = list.get(i).and_then(|n| n.dyn_into::<HtmlElement>().ok()) {
                if element.offset_parent().is_some() {
                    out.push(element.into());
                }
            }
        }
    }
    out
}

/// Tab / Shift+Tab wrap around inside a modal.
fn trap_tab(root: &ShadowRoot, key: &KeyboardEvent) {
    let items = visible(root);
    let active = root.active_element();
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        key.prevent_default();
        return;
    };
    let inside = active.as_ref().is_some_and(|a| items.contains(a));
    let target = match (inside, key.shift_key()) {
        (false, true) => Some(last),
        (false, false) => Some(first),
        (true, true) if active.as_ref() == Some(first) => Some(last),
        (true, false) if active.as_ref() == Some(last) => Some(first),
        _ => None,
    };
    if let Some(target) = target.and_then(|t| t.dyn_ref::<HtmlElement>()) {
        key.prevent_default();
        let _ = target.focus();
    }
}
