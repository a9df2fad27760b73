//! Theming: the `theme` option and the text colour kept readable on a host's accent colour.
//!
//! Hosts brand the SDK's surfaces with CSS custom properties that cross into its shadow roots:
//! `--patchbay-accent`, `--patchbay-accent-text`, `--patchbay-radius` and `--patchbay-font`. When
//! a host sets an accent but no accent text colour, the SDK picks black or white, whichever
//! contrasts more with that accent (WCAG relative luminance).

/// The colour scheme of the SDK's surfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    /// Light surfaces (the default).
    #[default]
    Light,
    /// Dark surfaces.
    Dark,
    /// Follows the system's `prefers-color-scheme`.
    System,
}

impl Theme {
    /// The option's accepted values, for error messages.
    pub const NAMES: &'static str = "light, dark, system";

    /// Parses the `theme` option.
    pub fn parse(name: &str) -> Option<Theme> {
        match name {
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            "system" => Some(Theme::System),
            _ => None,
        }
    }

    /// The class the stylesheet keys the theme on (set on each surface's host element).
    pub fn class(self) -> &'static str {
        match self {
            Theme::Light => "pb-light",
            Theme::Dark => "pb-dark",
            Theme::System => "pb-system",
        }
    }
}

/// Black or white, whichever is more readable on `accent` (a computed CSS colour: `#rgb`,
/// `#rrggbb` or `rgb(…)`/`rgba(…)`); `None` when the colour cannot be read.
pub fn readable_text_on(accent: &str) -> Option<&'static str> {
    let [r, g, b] = parse_color(accent.trim())?;
    let luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    // Contrast ratios with white (luminance 1) and black (0).
    let with_white = 1.05 / (luminance + 0.05);
    let with_black = (luminance + 0.05) / 0.05;
    Some(if with_white >= with_black { "#fff" } else { "#000" })
}

fn linear(channel: u8) -> f64 {
    let c = f64::from(channel) / 255.0;
    if c <= 0.039_28 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn parse_color(css: &str) -> Option<[u8; 3]> {
    if let Some(hex) = css.strip_prefix('#') {
        let digit = |i: usize, len: usize| u8::from_str_radix(hex.get(i..i + len)?, 16).ok();
        return match hex.len() {
            3 | 4 => Some([digit(0, 1)? * 17, digit(1, 1)? * 17, digit(2, 1)? * 17]),
            6 | 8 => Some([digit(0, 2)?, digit(2, 2)?, digit(4, 2)?]),
            _ => None,
        };
    }
    let inner = css.strip_prefix("rgba(").or_else(|| css.strip_prefix("rgb("))?.strip_suffix(')')?;
    let mut channels = inner.split([',', ' ', '/']).filter(|part| !part.is_empty());
    // Whole channels are enough to choose black or white (and integer parsing keeps float
    // parsing out of the bundle): "190.6" reads as 190.
    let mut next = || {
        let channel = channels.next()?.trim();
        let whole = channel.split('.').next()?;
        whole.parse::<u16>().ok().map(|v| v.min(255) as u8)
    };
    Some([next()?, next()?, next()?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_theme_option_names_three_schemes() {
        assert_eq!(Theme::parse("dark"), Some(Theme::Dark));
        assert_eq!(Theme::parse("system").map(Theme::class), Some("pb-system"));
        assert_eq!(Theme::parse("Dark"), None);
        assert_eq!(Theme::default(), Theme::Light);
    }

    #[test]
    fn text_on_the_accent_is_black_or_white_whichever_reads_better() {
        assert_eq!(readable_text_on("#0b57d0"), Some("#fff"));
        assert_eq!(readable_text_on("#ffd400"), Some("#000"), "yellow");
        assert_eq!(readable_text_on("#fff"), Some("#000"));
        assert_eq!(readable_text_on("rgb(20, 20, 20)"), Some("#fff"));
        assert_eq!(readable_text_on("rgba(190, 242, 100, 0.9)"), Some("#000"), "lime");
        assert_eq!(readable_text_on("rgb(190 242 100 / 50%)"), Some("#000"));
        assert_eq!(readable_text_on("hotpink"), None, "named colours are not read");
        assert_eq!(readable_text_on("#12"), None);
    }
}
