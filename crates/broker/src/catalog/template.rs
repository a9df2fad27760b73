//! `{name}` templates used in the catalog (`"Bearer {access_token}"`). `{{` and `}}` are literal
//! braces. Templates are parsed once at start-up; rendering is a single pass with no allocation
//! beyond the output.

use std::borrow::Cow;
use std::fmt;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(String),
}

/// Why a template failed to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Template {
    /// Parses `source`.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '.' => name.push(c),
                            Some(c) => {
                                return Err(TemplateError(format!(
                                    "`{c}` is not allowed in a {{placeholder}}"
                                )))
                            }
                            None => return Err(TemplateError("unclosed `{`".into())),
                        }
                    }
                    if name.is_empty() {
                        return Err(TemplateError("empty `{}` placeholder".into()));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Var(name));
                }
                '}' => return Err(TemplateError("unmatched `}` (write `}}` for a literal brace)".into())),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// The placeholder names, in order.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Renders with `lookup`; a placeholder it does not know renders empty (the catalog validator
    /// already refused unknown names).
    pub fn render<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> String {
        self.try_render(|name| Some(Cow::Borrowed(lookup(name).unwrap_or_default()))).unwrap_or_default()
    }

    /// Renders with `lookup`, or `None` as soon as a placeholder has no value.
    pub fn try_render<'a>(&self, lookup: impl Fn(&str) -> Option<Cow<'a, str>>) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Var(name) => out.push_str(&lookup(name)?),
            }
        }
        Some(out)
    }

    /// The single placeholder name, when the template is exactly `{name}`.
    pub fn sole_var(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Var(name)] => Some(name),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_placeholders_and_escaped_braces() {
        let t = Template::parse("Bearer {access_token} {{literal}}").expect("parses");
        assert_eq!(t.vars().collect::<Vec<_>>(), ["access_token"]);
        let out = t.render(|name| (name == "access_token").then_some("tok"));
        assert_eq!(out, "Bearer tok {literal}");
    }

    #[test]
    fn malformed_templates_say_why() {
        assert_eq!(Template::parse("{open").err().map(|e| e.0), Some("unclosed `{`".into()));
        assert!(Template::parse("{}").is_err());
        assert!(Template::parse("a}b").is_err());
        assert!(Template::parse("{a b}").is_err());
    }
}
