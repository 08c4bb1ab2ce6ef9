//! Names that people read: API usernames and user emails (SPEC §2).
//!
//! Two rules live here. A name may hold no character that is invisible or reorders the text
//! around it (control, format, default-ignorable, bidi-control, line and paragraph separators,
//! private-use, unassigned) and no leading or trailing whitespace: such a name could show as
//! another. And names that look alike are the same name: uniqueness compares the UTS #39
//! confusable skeleton of the case-folded NFKC form, so `ſvc`, `ｓｖｃ`, `SVC` and a Cyrillic
//! `ѕvс` all have the skeleton of `svc`.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Why a name was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name starts or ends with whitespace.
    #[error("must not start or end with whitespace")]
    Whitespace,
    /// The name holds a character that is invisible or reorders the text around it.
    #[error(
        "must not contain control, format, invisible or bidirectional-control characters (found U+{0:04X})"
    )]
    Invisible(u32),
}

/// Default_Ignorable_Code_Point ranges (Unicode 15.1 `DerivedCoreProperties.txt`).
const DEFAULT_IGNORABLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFF8}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

/// Bidi_Control characters (Unicode `PropList.txt`): ALM, LRM, RLM, the embeddings and
/// overrides (U+202A–U+202E) and the isolates (U+2066–U+2069).
const BIDI_CONTROL: &[(char, char)] = &[
    ('\u{061C}', '\u{061C}'),
    ('\u{200E}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2066}', '\u{2069}'),
];

fn in_ranges(c: char, ranges: &[(char, char)]) -> bool {
    ranges.iter().any(|&(low, high)| (low..=high).contains(&c))
}

/// Whether a character may not appear in a name.
pub fn is_refused_char(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
    ) || in_ranges(c, DEFAULT_IGNORABLE)
        || in_ranges(c, BIDI_CONTROL)
}

/// Checks that a name shows as what it is: no refused character, no surrounding whitespace.
///
/// # Errors
/// [`NameError::Invisible`] with the first refused character, else [`NameError::Whitespace`].
pub fn check_visible(name: &str) -> Result<(), NameError> {
    if let Some(c) = name.chars().find(|&c| is_refused_char(c)) {
        return Err(NameError::Invisible(u32::from(c)));
    }
    if name.trim() != name {
        return Err(NameError::Whitespace);
    }
    Ok(())
}

/// The UTS #39 confusable skeleton of the case-folded NFKC form: equal for names that look
/// alike, compared for uniqueness (never shown, never used to find a credential).
pub fn skeleton(name: &str) -> String {
    // NFKC_Casefold-like: NFKC, full default case folding, NFKC again (folding can produce
    // sequences that compose), then the confusable skeleton.
    let nfkc: String = name.nfkc().collect();
    let folded = caseless::default_case_fold_str(&nfkc);
    let normalized: String = folded.nfkc().collect();
    unicode_security::skeleton(&normalized).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_share_a_skeleton() {
        let plain = skeleton("svc-reports");
        for name in [
            "SVC-REPORTS",
            "Svc-Reports",
            "ſvc-reports",
            "ｓｖｃ－ｒｅｐｏｒｔｓ",
            "sv\u{0441}-reports",
            "\u{0455}vc-reports",
        ] {
            assert_eq!(skeleton(name), plain, "{name}");
        }
        assert_ne!(skeleton("svc-reports2"), plain);
        assert_eq!(
            skeleton("bob@example.com"),
            skeleton("BOB@EXAMPLE.COM"),
            "emails fold case"
        );
        assert_eq!(
            skeleton("bob@ex\u{0430}mple.com"),
            skeleton("bob@example.com")
        );
    }

    #[test]
    fn invisible_and_reordering_characters_are_refused() {
        for name in [
            "svc\u{200B}",
            "\u{200B}svc",
            "svc\u{202E}",
            "s\u{00AD}vc",
            "s\u{2066}vc",
            "s\u{FEFF}vc",
            "s\u{E0041}vc",
            "s\u{0007}vc",
            "s\u{2028}vc",
            "s\u{E000}vc",
        ] {
            assert!(
                matches!(check_visible(name), Err(NameError::Invisible(_))),
                "{name:?}"
            );
        }
        for name in [" svc", "svc ", "svc\u{3000}", "\u{00A0}svc"] {
            assert_eq!(check_visible(name), Err(NameError::Whitespace), "{name:?}");
        }
        for name in [
            "svc",
            "my bot",
            "bob@example.com",
            "Zoë",
            "сервис",
            "ｓｖｃ",
        ] {
            assert_eq!(check_visible(name), Ok(()), "{name:?}");
        }
    }
}
