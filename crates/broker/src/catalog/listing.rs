//! Marketplace metadata: the category list and the generated monogram tile.

use patchbay_protocol::{AppIcon, CATEGORIES};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::FieldProblem;

/// `icon = { monogram = "HS", background = "#ff7a59" }`: either part overrides the generated one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIcon {
    monogram: Option<String>,
    background: Option<String>,
}

pub(super) fn category(raw: Option<String>) -> Result<Option<String>, FieldProblem> {
    match raw {
        Some(c) if !CATEGORIES.iter().any(|(id, _)| *id == c) => Err((
            "category",
            format!("`{c}` is not a category ({})", CATEGORIES.map(|(id, _)| id).join(", ")),
        )),
        other => Ok(other),
    }
}

/// The tile for app `id` named `name`, with the catalog's overrides.
pub(super) fn icon(id: &str, name: &str, raw: Option<RawIcon>) -> Result<AppIcon, FieldProblem> {
    let (monogram, background) = raw.map_or((None, None), |r| (r.monogram, r.background));
    let monogram = match monogram {
        Some(m) if (1..=3).contains(&m.chars().count()) && !m.chars().any(char::is_whitespace) => m,
        Some(_) => return Err(("icon.monogram", "must be 1 to 3 characters without spaces".into())),
        None => monogram_of(name),
    };
    let rgb = match background {
        Some(hex) => parse_hex(&hex).ok_or(("icon.background", "must be a colour `#rrggbb`".to_owned()))?,
        None => colour_of(id),
    };
    // Whichever text colour contrasts more with the tile (WCAG relative luminance).
    let luminance = relative_luminance(rgb);
    let on_white = 1.05 / (luminance + 0.05);
    let on_dark = (luminance + 0.05) / (relative_luminance([0x11; 3]) + 0.05);
    Ok(AppIcon {
        monogram,
        background: format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]),
        foreground: if on_white >= on_dark { "#ffffff" } else { "#111111" }.into(),
    })
}

/// "Google Drive" -> "GD", "HubSpot" -> "HS", "monday.com" -> "Mo".
fn monogram_of(name: &str) -> String {
    let words: Vec<&str> =
        name.split(|c: char| c.is_whitespace() || c == '-').filter(|w| !w.is_empty()).collect();
    let first_char = |w: &str| w.chars().find(|c| c.is_alphanumeric()).map(|c| c.to_uppercase().to_string());
    if words.len() >= 2 {
        return words.iter().take(2).filter_map(|w| first_char(w)).collect();
    }
    let word = words.first().copied().unwrap_or("?");
    let capitals: String = word.chars().filter(|c| c.is_uppercase()).take(2).collect();
    if capitals.chars().count() == 2 {
        return capitals;
    }
    let mut letters = word.chars().filter(|c| c.is_alphanumeric());
    let first = letters.next().map(|c| c.to_uppercase().to_string()).unwrap_or_else(|| "?".into());
    let second = letters.next().map(|c| c.to_lowercase().to_string()).unwrap_or_default();
    first + &second
}

/// A stable, fairly saturated colour from the id's hash (hue from the hash, fixed saturation
/// and lightness), so tiles differ without anyone picking colours by hand.
fn colour_of(id: &str) -> [u8; 3] {
    let hash = Sha256::digest(id.as_bytes());
    let hue = f64::from(u16::from_be_bytes([hash[0], hash[1]])) / 65536.0 * 360.0;
    hsl_to_rgb(hue, 0.55, 0.40)
}

fn hsl_to_rgb(h: f64, s: f64, l: f64) -> [u8; 3] {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let x = c * (1.0 - ((h / 60.0) % 2.0 - 1.0).abs());
    let m = l - c / 2.0;
    let (r, g, b) = match h {
        h if h < 60.0 => (c, x, 0.0),
        h if h < 120.0 => (x, c, 0.0),
        h if h < 180.0 => (0.0, c, x),
        h if h < 240.0 => (0.0, x, c),
        h if h < 300.0 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    // Values are within 0..=255 by construction; the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let channel = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    [channel(r), channel(g), channel(b)]
}

fn parse_hex(hex: &str) -> Option<[u8; 3]> {
    let digits = hex.strip_prefix('#').filter(|d| d.len() == 6 && d.is_ascii())?;
    let byte = |i: usize| u8::from_str_radix(&digits[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

fn relative_luminance(rgb: [u8; 3]) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monograms_follow_words_then_capitals() {
        assert_eq!(monogram_of("Google Drive"), "GD");
        assert_eq!(monogram_of("HubSpot"), "HS");
        assert_eq!(monogram_of("monday.com"), "Mo");
        assert_eq!(monogram_of("X"), "X");
    }

    #[test]
    fn tiles_are_stable_and_readable() {
        let a = icon("hubspot", "HubSpot", None).expect("icon");
        assert_eq!(a, icon("hubspot", "HubSpot", None).expect("icon"), "same id, same tile");
        assert_ne!(a.background, icon("slack", "Slack", None).expect("icon").background);
        let yellow = icon("x", "X", Some(RawIcon { monogram: None, background: Some("#ffd000".into()) }))
            .expect("icon");
        assert_eq!(yellow.foreground, "#111111", "dark text on a light tile");
        assert!(icon("x", "X", Some(RawIcon { monogram: Some("ABCD".into()), background: None })).is_err());
        assert!(icon("x", "X", Some(RawIcon { monogram: None, background: Some("red".into()) })).is_err());
    }
}
