//! An app's JSON answer passed through untouched when nothing needs to look inside it: validated
//! without building a tree, and only when its bytes are already exactly what parsing it into a
//! `serde_json::Value` and writing it out again would give. So invokes answer byte for byte what
//! they answered when every body was parsed and written again, for ~3 µs less a call.

use serde_json::value::RawValue;

/// Objects with more keys than this are left to the parser (the duplicate check is quadratic).
const MAX_CHECKED_KEYS: usize = 64;
/// Integers with more digits than this may not fit `i64` or `u64`, which the parser would turn
/// into a float.
const MAX_INTEGER_DIGITS: usize = 18;

/// `body` as a raw JSON value when it is valid JSON already in the form `serde_json` writes
/// (surrounding whitespace aside); `None` when it must go through the parser.
pub fn untouched(body: &[u8]) -> Option<Box<RawValue>> {
    let body = body.trim_ascii();
    if body.is_empty() || !written_as_serde_json_writes(body) {
        return None;
    }
    serde_json::from_slice::<Box<RawValue>>(body).ok()
}

/// True when valid JSON `json` is written as `serde_json` writes a `Value`: no whitespace between
/// tokens, only the short escapes (`\"` `\\` `\n` `\r` `\t` `\b` `\f`), integers only (no `-0`,
/// none too long to be exact), and no key twice in an object (the parser keeps one).
/// Conservative: anything else may well be written that way too, but is parsed to be sure.
fn written_as_serde_json_writes(json: &[u8]) -> bool {
    // Per open container: the keys of an object, `None` for an array.
    let mut open: Vec<Option<Vec<&[u8]>>> = Vec::new();
    let mut i = 0;
    while let Some(&byte) = json.get(i) {
        match byte {
            b'"' => {
                let start = i + 1;
                i = start;
                loop {
                    match json.get(i) {
                        Some(b'"') => break,
                        Some(b'\\') => match json.get(i + 1) {
                            Some(b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f') => i += 2,
                            _ => return false,
                        },
                        Some(_) => i += 1,
                        None => return false,
                    }
                }
                let text = &json[start..i];
                i += 1;
                if json.get(i) == Some(&b':') {
                    match open.last_mut() {
                        Some(Some(keys)) if keys.len() < MAX_CHECKED_KEYS && !keys.contains(&text) => {
                            keys.push(text);
                        }
                        _ => return false,
                    }
                }
            }
            b'{' | b'[' => {
                open.push((byte == b'{').then(Vec::new));
                i += 1;
            }
            b'}' | b']' => {
                open.pop();
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while json.get(i).is_some_and(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                {
                    i += 1;
                }
                let number = &json[start..i];
                let digits = number.strip_prefix(b"-").unwrap_or(number);
                if !digits.iter().all(u8::is_ascii_digit)
                    || digits.len() > MAX_INTEGER_DIGITS
                    || number == b"-0"
                {
                    return false;
                }
            }
            b' ' | b'\t' | b'\n' | b'\r' => return false,
            _ => i += 1,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the parse-and-write path answers for `body`.
    fn reparsed(body: &str) -> String {
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(body).expect("valid JSON"))
            .expect("writes")
    }

    #[test]
    fn what_passes_through_is_byte_identical_to_parsing_and_writing_again() {
        let bodies = [
            r#"{"ok":true,"items":[1,2,3]}"#,
            "{\"id\":-42,\"name\":\"Ré\\\"sumé\\n\",\"nested\":{\"a\":[],\"b\":{},\"c\":null}}\n",
            "  [\"a\\\\b\",\"\\t\\r\\b\\f\",\"emoji 🎉\",9007199254740993]\r\n",
            "123456789012345678",
            "\"just a string\"",
            "null",
            r#"{"a":{"x":1},"b":{"x":2}}"#,
        ];
        for body in bodies {
            let raw = untouched(body.as_bytes()).unwrap_or_else(|| panic!("{body} passes through"));
            assert_eq!(raw.get(), reparsed(body), "{body}");
        }
    }

    #[test]
    fn anything_the_parser_would_rewrite_goes_through_it() {
        for body in [
            r#"{"a": 1}"#,
            "{\n  \"a\": 1\n}",
            r#"{"url":"https:\/\/example.com"}"#,
            r#"{"name":"\u00e9"}"#,
            r#"{"n":1.50}"#,
            r#"{"n":1e3}"#,
            r#"{"n":-0}"#,
            r#"{"n":99999999999999999999}"#,
            r#"{"a":1,"a":2}"#,
        ] {
            assert!(untouched(body.as_bytes()).is_none(), "{body} is rewritten by the parser");
            assert_ne!(body, reparsed(body), "the case is real: {body}");
        }
    }

    #[test]
    fn invalid_or_empty_bodies_are_not_passed_through() {
        for body in ["", "   ", "{", r#"{"a":}"#, "not json", "[1,]", "\"unterminated"] {
            assert!(untouched(body.as_bytes()).is_none(), "{body:?}");
        }
        assert!(untouched(b"\"\xff\"").is_none(), "invalid UTF-8");
    }

    #[test]
    fn large_objects_are_left_to_the_parser() {
        let fields: Vec<String> = (0..=MAX_CHECKED_KEYS).map(|i| format!("\"k{i}\":{i}")).collect();
        let body = format!("{{{}}}", fields.join(","));
        assert!(untouched(body.as_bytes()).is_none());
    }
}
