//! A form in a dialog, shared by credential forms and function forms: rendering, reading the
//! browser's values back, validation, and lists that grow and shrink.

use super::Step;
use crate::i18n::{text, Lang, Text};
use crate::json::{cat, Json};
use crate::schema::FormModel;
use crate::validate::{
    blank, collect, id_of, initial_inputs, list_at, pointer_child, read_values, Input, ParseJson,
};
use crate::view::{dialog, form, FormView};

/// A form's model, values and framing.
pub struct Form {
    /// Interface language.
    pub lang: Lang,
    /// Dialog title.
    pub title: String,
    /// Paragraphs above the fields.
    pub intro: Vec<String>,
    /// The fields.
    pub model: FormModel,
    /// Their values as of the last read.
    pub inputs: Vec<Input>,
    /// Submit button label.
    pub submit: Text,
    /// A wide dialog.
    pub wide: bool,
}

impl Form {
    /// A form whose values start from `prefill`, else the schema's defaults.
    pub fn new(
        lang: Lang,
        title: String,
        intro: Vec<String>,
        model: FormModel,
        prefill: Option<&Json>,
        submit: Text,
        wide: bool,
    ) -> Form {
        let inputs = initial_inputs(&model.fields, prefill);
        Form { lang, title, intro, model, inputs, submit, wide }
    }

    /// Shows the form, focusing `focus` (else its first control).
    pub fn show(&self, focus: Option<String>) -> Step {
        let body = form(&FormView {
            lang: self.lang,
            intro: &self.intro,
            model: &self.model,
            inputs: &self.inputs,
            submit: self.submit,
        });
        Step::Show { html: dialog(self.lang, &self.title, self.wide, None, &body), focus }
    }

    /// Reads `values` and validates: the arguments, or the problems to show.
    pub fn submit(&mut self, values: &Json, parse: ParseJson<'_>) -> Result<Json, Step> {
        read_values(&self.model.fields, &mut self.inputs, values);
        collect(&self.model, &self.inputs, parse).map_err(|problems| {
            let mut list = Vec::with_capacity(problems.len());
            for p in &problems {
                list.push((id_of(&p.pointer), p.issue.text(self.lang)));
            }
            Step::Problems(list, Some(text(self.lang, Text::FixErrors).to_owned()))
        })
    }

    /// `add` (`id`: the list's pointer) or `remove` (`id`: the item's pointer): re-renders with
    /// the values read back; focus goes to the new item, or the item now where the removed one
    /// was, else the list's "Add item".
    pub fn list_action(&mut self, name: &str, id: Option<&str>, values: &Json) -> Vec<Step> {
        let Some(pointer) = id else { return Vec::new() };
        read_values(&self.model.fields, &mut self.inputs, values);
        let (list, removed) = match pointer.rsplit_once('/') {
            Some((list, index)) if name == "remove" => (list, index.parse::<usize>().ok()),
            _ => (pointer, None),
        };
        let Some((item, items)) = list_at(&self.model.fields, &mut self.inputs, list) else {
            return Vec::new();
        };
        let focus = match removed {
            Some(index) if index < items.len() => {
                items.remove(index);
                index
            }
            Some(_) => return Vec::new(),
            None => {
                items.push(blank(item));
                items.len() - 1
            }
        };
        let focus = if focus < items.len() {
            id_of(&pointer_child(list, &focus.to_string()))
        } else {
            cat(&["add", &id_of(list)])
        };
        vec![self.show(Some(focus))]
    }
}
