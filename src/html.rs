//! A minimal HTML builder. Every text and attribute value goes through [`escape`], so data from
//! the broker or a provider (labels, display names) cannot inject markup. Output contains no
//! `style` attributes, `<style>` or `<script>` elements and no inline event handlers: a strict
//! CSP has nothing to block.

/// Escapes text for element content and double-quoted attribute values.
pub fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// An HTML fragment under construction: literal markup with [`Html::raw`], escaped text with
/// [`Html::text`] and escaped attributes with [`Html::attr`].
#[derive(Debug, Default)]
pub struct Html(String);

impl Html {
    /// An empty fragment.
    pub fn new() -> Html {
        Html(String::with_capacity(1024))
    }

    /// Appends literal markup (only ever static strings of the SDK).
    pub fn raw(&mut self, markup: &str) -> &mut Html {
        self.0.push_str(markup);
        self
    }

    /// Appends escaped text.
    pub fn text(&mut self, s: &str) -> &mut Html {
        escape(s, &mut self.0);
        self
    }

    /// Appends ` name="value"` (escaped), inside an open tag.
    pub fn attr(&mut self, name: &str, value: &str) -> &mut Html {
        self.0.push(' ');
        self.0.push_str(name);
        self.0.push_str("=\"");
        escape(value, &mut self.0);
        self.0.push('"');
        self
    }

    /// Appends ` name` (a boolean attribute, written `name=""`) when `on`.
    pub fn flag(&mut self, name: &str, on: bool) -> &mut Html {
        if on {
            self.0.push(' ');
            self.0.push_str(name);
            self.0.push_str("=\"\"");
        }
        self
    }

    /// The markup.
    pub fn finish(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped() {
        let mut h = Html::new();
        h.raw("<p").attr("title", "\"><script>").flag("hidden", false).flag("data-x", true).raw(">");
        h.text("<b>&'</b>").raw("</p>");
        assert_eq!(
            h.finish(),
            "<p title=\"&quot;&gt;&lt;script&gt;\" data-x=\"\">&lt;b&gt;&amp;&#39;&lt;/b&gt;</p>"
        );
    }
}
