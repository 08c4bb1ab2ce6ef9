//! The DocuSign legacy `X-DocuSign-Authentication` header (SPEC §5): parsing and building.
//!
//! The header carries a username, a password, an integrator key and an optional
//! send-on-behalf-of user, either as a JSON object or as a small XML document:
//!
//! ```text
//! {"Username":"…","Password":"…","IntegratorKey":"…","SendOnBehalfOf":"…"}
//! <DocuSignCredentials><Username>…</Username><Password>…</Password><IntegratorKey>…</IntegratorKey></DocuSignCredentials>
//! ```
//!
//! # Security
//! The header is attacker-controlled input, so the parser is strict and bounded: the header is at
//! most [`MAX_HEADER_LEN`] bytes, every value at most [`MAX_FIELD_LEN`] bytes, JSON values must be
//! strings, and XML documents with a DTD (`<!DOCTYPE …>`), custom or external entities, processing
//! instructions or nested elements are refused outright. This refuses billion-laughs and XXE
//! payloads before any entity is expanded.

use std::fmt;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, BytesText, Event};
use serde::Serialize;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use crate::secret::Secret;

/// The largest accepted header value, in bytes.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

/// The largest accepted field value (username, password, key, send-on-behalf-of), in bytes.
pub const MAX_FIELD_LEN: usize = 1024;

/// The root element of the XML form.
const XML_ROOT: &str = "DocuSignCredentials";

/// Credentials decoded from an `X-DocuSign-Authentication` header.
///
/// Every value is trimmed of ASCII whitespace; username, password and integrator key are
/// never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyCredentials {
    /// The user's email address or user id.
    pub username: String,
    /// The user's password or API password.
    pub password: Secret,
    /// The integrator key naming the calling application.
    pub integrator_key: String,
    /// The user to act for (email or user id); `None` when absent or empty.
    pub send_on_behalf_of: Option<String>,
}

/// Why an `X-DocuSign-Authentication` header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LegacyHeaderError {
    /// The header exceeds [`MAX_HEADER_LEN`] or a value exceeds [`MAX_FIELD_LEN`].
    #[error("legacy authentication header too long")]
    TooLong,
    /// The header is neither a well-formed JSON object nor an acceptable XML document.
    #[error("legacy authentication header malformed")]
    Malformed,
    /// The integrator key is missing or empty.
    #[error("legacy authentication header has no integrator key")]
    MissingIntegratorKey,
    /// The username or the password is missing or empty.
    #[error("legacy authentication header has no username or password")]
    MissingCredentials,
}

/// The two encodings of the header value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderFormat {
    /// `<DocuSignCredentials>…</DocuSignCredentials>`.
    Xml,
    /// `{"Username":…,"Password":…,"IntegratorKey":…}`.
    Json,
}

/// Parses the raw value of an `X-DocuSign-Authentication` header.
///
/// The bytes are read as UTF-8; a value that is not valid UTF-8 is read as ISO-8859-1 (every
/// byte is the character U+0000–U+00FF of the same number), which is what Node.js and Java HTTP
/// clients send for a non-ASCII password (`é` as the single byte 0xE9). Surrounding ASCII
/// whitespace is ignored. A value starting with `{` is read as JSON, one starting with `<` as
/// XML. Field names match case-insensitively.
///
/// # Errors
/// [`LegacyHeaderError::TooLong`] if the header or a value is too long,
/// [`LegacyHeaderError::Malformed`] if it cannot be parsed or uses a refused construct,
/// [`LegacyHeaderError::MissingIntegratorKey`] if the integrator key is missing or empty (checked
/// first), and [`LegacyHeaderError::MissingCredentials`] if the username or password is.
pub fn parse_header(raw: &[u8]) -> Result<LegacyCredentials, LegacyHeaderError> {
    if raw.len() > MAX_HEADER_LEN {
        return Err(LegacyHeaderError::TooLong);
    }
    let text = decode(raw);
    let text = text.trim_ascii();
    let fields = match text.as_bytes().first() {
        Some(b'{') => parse_json(text)?,
        Some(b'<') => parse_xml(text)?,
        _ => return Err(LegacyHeaderError::Malformed),
    };
    fields.finish()
}

/// Reads header bytes as UTF-8, or as ISO-8859-1 when they are not valid UTF-8 (SPEC §5).
///
/// The choice is made for the whole value, never per field: a value mixing a Latin-1 byte with
/// UTF-8 sequences is read entirely as ISO-8859-1, so its UTF-8 parts read differently and the
/// password does not match (the request fails; nothing is guessed).
fn decode(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(raw) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => std::borrow::Cow::Owned(raw.iter().copied().map(char::from).collect()),
    }
}

/// Builds a correctly escaped header value.
///
/// Used by the CLI `countersign header` and by integrators. The result is a single line: XML
/// escapes `< > & ' "` and writes control characters (including CR and LF) as character
/// references; JSON escapes them as usual. Values are written as given, so leading or trailing
/// whitespace is lost on parsing, and a NUL character cannot be represented in the XML form
/// (and is refused by [`parse_header`] in either form).
pub fn build_header(
    format: HeaderFormat,
    username: &str,
    password: &str,
    integrator_key: &str,
    send_on_behalf_of: Option<&str>,
) -> String {
    match format {
        HeaderFormat::Xml => {
            let mut out = String::with_capacity(
                128 + username.len()
                    + password.len()
                    + integrator_key.len()
                    + send_on_behalf_of.map_or(0, str::len),
            );
            out.push('<');
            out.push_str(XML_ROOT);
            out.push('>');
            push_xml_element(&mut out, "Username", username);
            push_xml_element(&mut out, "Password", password);
            push_xml_element(&mut out, "IntegratorKey", integrator_key);
            if let Some(sobo) = send_on_behalf_of {
                push_xml_element(&mut out, "SendOnBehalfOf", sobo);
            }
            out.push_str("</");
            out.push_str(XML_ROOT);
            out.push('>');
            out
        }
        HeaderFormat::Json => {
            let header = JsonHeader {
                username,
                password,
                integrator_key,
                send_on_behalf_of,
            };
            let json = serde_json::to_string(&header)
                .expect("serializing a struct of string fields cannot fail");
            // serde_json leaves DEL unescaped; it may only occur inside strings, and it is not
            // allowed in an HTTP header value.
            if json.contains('\u{7f}') {
                json.replace('\u{7f}', "\\u007f")
            } else {
                json
            }
        }
    }
}

/// The JSON form written by [`build_header`], in the documented field order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JsonHeader<'a> {
    username: &'a str,
    password: &'a str,
    integrator_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    send_on_behalf_of: Option<&'a str>,
}

/// Appends `<name>value</name>` with the value escaped for XML on a single line.
fn push_xml_element(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    for c in quick_xml::escape::escape(value).chars() {
        if c.is_control() && c != '\t' {
            out.push_str("&#");
            out.push_str(&u32::from(c).to_string());
            out.push(';');
        } else {
            out.push(c);
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// One of the four known fields of the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Username,
    Password,
    IntegratorKey,
    SendOnBehalfOf,
}

impl Field {
    /// Matches a JSON key or XML local name case-insensitively.
    fn from_name(name: &[u8]) -> Option<Self> {
        [
            ("Username", Self::Username),
            ("Password", Self::Password),
            ("IntegratorKey", Self::IntegratorKey),
            ("SendOnBehalfOf", Self::SendOnBehalfOf),
        ]
        .into_iter()
        .find(|(known, _)| known.as_bytes().eq_ignore_ascii_case(name))
        .map(|(_, field)| field)
    }
}

/// The raw (untrimmed) values found so far.
#[derive(Default)]
struct Fields {
    username: Option<String>,
    password: Option<Secret>,
    integrator_key: Option<String>,
    send_on_behalf_of: Option<String>,
}

impl Fields {
    /// Records a value, refusing a field seen before.
    fn set(&mut self, field: Field, value: String) -> Result<(), LegacyHeaderError> {
        fn put<T>(slot: &mut Option<T>, value: T) -> Result<(), LegacyHeaderError> {
            if slot.is_some() {
                return Err(LegacyHeaderError::Malformed);
            }
            *slot = Some(value);
            Ok(())
        }
        match field {
            Field::Username => put(&mut self.username, value),
            Field::Password => put(&mut self.password, Secret::new(value)),
            Field::IntegratorKey => put(&mut self.integrator_key, value),
            Field::SendOnBehalfOf => put(&mut self.send_on_behalf_of, value),
        }
    }

    /// Trims and validates the values.
    fn finish(self) -> Result<LegacyCredentials, LegacyHeaderError> {
        fn trimmed(value: Option<&str>) -> Result<&str, LegacyHeaderError> {
            let value = value.unwrap_or_default().trim_ascii();
            if value.len() > MAX_FIELD_LEN {
                return Err(LegacyHeaderError::TooLong);
            }
            // No stored name or key holds a NUL (PostgreSQL cannot even compare one), the XML
            // form cannot carry it, and no client sends it.
            if value.contains('\0') {
                return Err(LegacyHeaderError::Malformed);
            }
            Ok(value)
        }
        let username = trimmed(self.username.as_deref())?;
        let password = trimmed(self.password.as_ref().map(Secret::expose))?;
        let integrator_key = trimmed(self.integrator_key.as_deref())?;
        let send_on_behalf_of = trimmed(self.send_on_behalf_of.as_deref())?;
        if integrator_key.is_empty() {
            return Err(LegacyHeaderError::MissingIntegratorKey);
        }
        if username.is_empty() || password.is_empty() {
            return Err(LegacyHeaderError::MissingCredentials);
        }
        Ok(LegacyCredentials {
            username: username.to_owned(),
            password: Secret::new(password),
            integrator_key: integrator_key.to_owned(),
            send_on_behalf_of: (!send_on_behalf_of.is_empty())
                .then(|| send_on_behalf_of.to_owned()),
        })
    }
}

/// Parses the JSON form: one object whose known values are strings, with nothing after it.
fn parse_json(text: &str) -> Result<Fields, LegacyHeaderError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let fields = (&mut deserializer)
        .deserialize_map(JsonFieldsVisitor)
        .map_err(|_| LegacyHeaderError::Malformed)?;
    deserializer
        .end()
        .map_err(|_| LegacyHeaderError::Malformed)?;
    Ok(fields)
}

/// Visits the top-level JSON object, collecting the known fields.
struct JsonFieldsVisitor;

impl<'de> Visitor<'de> for JsonFieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of credentials")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key::<String>()? {
            let value = match Field::from_name(key.as_bytes()) {
                // A null send-on-behalf-of counts as absent but still as seen, for duplicates.
                Some(Field::SendOnBehalfOf) => Some((
                    Field::SendOnBehalfOf,
                    map.next_value::<Option<String>>()?.unwrap_or_default(),
                )),
                Some(field) => Some((field, map.next_value::<String>()?)),
                None => {
                    map.next_value::<JsonScalar>()?;
                    None
                }
            };
            if let Some((field, value)) = value {
                fields
                    .set(field, value)
                    .map_err(|_| de::Error::custom("duplicate field"))?;
            }
        }
        Ok(fields)
    }
}

/// The value of an unknown JSON key: any scalar, never an array or object.
struct JsonScalar;

impl<'de> Deserialize<'de> for JsonScalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonScalarVisitor)
    }
}

/// Accepts scalars; arrays and objects fall to the default (refusing) visitor methods.
struct JsonScalarVisitor;

impl Visitor<'_> for JsonScalarVisitor {
    type Value = JsonScalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, boolean or null")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<JsonScalar, E> {
        Ok(JsonScalar)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<JsonScalar, E> {
        Ok(JsonScalar)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<JsonScalar, E> {
        Ok(JsonScalar)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<JsonScalar, E> {
        Ok(JsonScalar)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<JsonScalar, E> {
        Ok(JsonScalar)
    }

    fn visit_unit<E: de::Error>(self) -> Result<JsonScalar, E> {
        Ok(JsonScalar)
    }
}

/// Where the XML reader stands in the document.
enum XmlPosition {
    /// Before the root element (only the declaration, comments and whitespace allowed).
    Prolog,
    /// Inside the root element, between children.
    Root,
    /// Inside a child element; the field is `None` for an ignored unknown element.
    Child(Option<Field>, String),
    /// After the root element closed (only comments and whitespace allowed).
    Epilog,
}

/// Parses the XML form: a flat `DocuSignCredentials` element with text-only children.
fn parse_xml(text: &str) -> Result<Fields, LegacyHeaderError> {
    use LegacyHeaderError::Malformed;

    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.allow_unmatched_ends = false;
    config.expand_empty_elements = false;
    config.trim_text(false);

    let mut fields = Fields::default();
    let mut position = XmlPosition::Prolog;
    let mut first_event = true;
    loop {
        let event = reader.read_event().map_err(|_| Malformed)?;
        let is_first = std::mem::replace(&mut first_event, false);
        position = match (position, event) {
            // Refused anywhere, before anything is expanded: this stops billion laughs and XXE.
            (_, Event::DocType(_)) => return Err(Malformed),
            (_, Event::PI(_)) => return Err(Malformed),
            (position, Event::Decl(_)) if is_first => position,
            (_, Event::Decl(_)) => return Err(Malformed),
            (position, Event::Comment(_)) => position,

            (XmlPosition::Prolog, Event::Start(root)) => {
                check_element(&root, Some(XML_ROOT))?;
                XmlPosition::Root
            }
            (XmlPosition::Prolog, Event::Empty(root)) => {
                check_element(&root, Some(XML_ROOT))?;
                XmlPosition::Epilog
            }
            (XmlPosition::Root, Event::Start(child)) => {
                check_element(&child, None)?;
                let field = Field::from_name(child.local_name().as_ref());
                XmlPosition::Child(field, String::new())
            }
            (XmlPosition::Root, Event::Empty(child)) => {
                check_element(&child, None)?;
                if let Some(field) = Field::from_name(child.local_name().as_ref()) {
                    fields.set(field, String::new())?;
                }
                XmlPosition::Root
            }
            // The reader checks that end names match their start.
            (XmlPosition::Root, Event::End(_)) => XmlPosition::Epilog,
            (XmlPosition::Child(field, mut value), Event::Text(content)) => {
                let content = content.unescape().map_err(|_| Malformed)?;
                if field.is_some() {
                    value.push_str(&content);
                }
                XmlPosition::Child(field, value)
            }
            (XmlPosition::Child(field, mut value), Event::CData(content)) => {
                let content = content.decode().map_err(|_| Malformed)?;
                if field.is_some() {
                    value.push_str(&content);
                }
                XmlPosition::Child(field, value)
            }
            (XmlPosition::Child(field, value), Event::End(_)) => {
                if let Some(field) = field {
                    fields.set(field, value)?;
                }
                XmlPosition::Root
            }
            (
                position @ (XmlPosition::Prolog | XmlPosition::Root | XmlPosition::Epilog),
                Event::Text(content),
            ) if is_xml_whitespace(&content) => position,
            (XmlPosition::Epilog, Event::Eof) => return Ok(fields),
            // Nested elements, stray text or CDATA, a second root, truncated documents.
            _ => return Err(Malformed),
        };
    }
}

/// Checks an element's attributes are well formed and, for the root, its local name.
fn check_element(
    element: &BytesStart<'_>,
    expected: Option<&str>,
) -> Result<(), LegacyHeaderError> {
    if let Some(expected) = expected
        && !element
            .local_name()
            .as_ref()
            .eq_ignore_ascii_case(expected.as_bytes())
    {
        return Err(LegacyHeaderError::Malformed);
    }
    for attribute in element.attributes() {
        let attribute = attribute.map_err(|_| LegacyHeaderError::Malformed)?;
        attribute
            .unescape_value()
            .map_err(|_| LegacyHeaderError::Malformed)?;
    }
    Ok(())
}

/// Whether raw text is only XML whitespace (no references, which count as content).
fn is_xml_whitespace(text: &BytesText<'_>) -> bool {
    text.iter()
        .all(|byte| matches!(byte, b' ' | b'\t' | b'\r' | b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const USER: &str = "cdcd3fc7-2b3c-40d4-98ed-ff90add317ca";
    const PASSWORD: &str = "/A5hpPhSczID+JNEKZbg5mYf7+7=";
    const KEY: &str = "YDMN-339fa93c-fcf0-4390-8141-2e0f071ffa2e";
    const SOBO: &str = "eacd3fc7-2b3c-40d4-98ed-ff90add317ff";

    fn parse(raw: &str) -> Result<LegacyCredentials, LegacyHeaderError> {
        parse_header(raw.as_bytes())
    }

    fn seed_credentials(sobo: Option<&str>) -> LegacyCredentials {
        LegacyCredentials {
            username: USER.to_owned(),
            password: Secret::new(PASSWORD),
            integrator_key: KEY.to_owned(),
            send_on_behalf_of: sobo.map(str::to_owned),
        }
    }

    fn credentials(user: &str, password: &str, key: &str, sobo: Option<&str>) -> LegacyCredentials {
        LegacyCredentials {
            username: user.to_owned(),
            password: Secret::new(password),
            integrator_key: key.to_owned(),
            send_on_behalf_of: sobo.map(str::to_owned),
        }
    }

    fn xml_with_body(body: &str) -> String {
        format!("<DocuSignCredentials>{body}</DocuSignCredentials>")
    }

    #[test]
    fn parses_seed_xml_without_sobo_trimming_the_integrator_key() {
        let raw = "<DocuSignCredentials><Username>cdcd3fc7-2b3c-40d4-98ed-ff90add317ca</Username><Password>/A5hpPhSczID+JNEKZbg5mYf7+7=</Password><IntegratorKey>YDMN-339fa93c-fcf0-4390-8141-2e0f071ffa2e </IntegratorKey></DocuSignCredentials>";
        assert_eq!(parse(raw), Ok(seed_credentials(None)));
    }

    #[test]
    fn parses_seed_xml_with_sobo_trimming_send_on_behalf_of() {
        let raw = "<DocuSignCredentials><Username>cdcd3fc7-2b3c-40d4-98ed-ff90add317ca</Username><Password>/A5hpPhSczID+JNEKZbg5mYf7+7=</Password><IntegratorKey>YDMN-339fa93c-fcf0-4390-8141-2e0f071ffa2e</IntegratorKey><SendOnBehalfOf>eacd3fc7-2b3c-40d4-98ed-ff90add317ff </SendOnBehalfOf></DocuSignCredentials>";
        assert_eq!(parse(raw), Ok(seed_credentials(Some(SOBO))));
    }

    #[test]
    fn parses_seed_json_without_sobo() {
        let raw = r#"{"Username":"cdcd3fc7-2b3c-40d4-98ed-ff90add317ca","Password":"/A5hpPhSczID+JNEKZbg5mYf7+7=","IntegratorKey":"YDMN-339fa93c-fcf0-4390-8141-2e0f071ffa2e"}"#;
        assert_eq!(parse(raw), Ok(seed_credentials(None)));
    }

    #[test]
    fn parses_seed_json_with_sobo_before_the_integrator_key() {
        let raw = r#"{"Username":"cdcd3fc7-2b3c-40d4-98ed-ff90add317ca","Password":"/A5hpPhSczID+JNEKZbg5mYf7+7=","SendOnBehalfOf":"eacd3fc7-2b3c-40d4-98ed-ff90add317ff","IntegratorKey":"YDMN-339fa93c-fcf0-4390-8141-2e0f071ffa2e"}"#;
        assert_eq!(parse(raw), Ok(seed_credentials(Some(SOBO))));
    }

    #[test]
    fn parses_xml_with_send_on_behalf_of_first() {
        let raw = xml_with_body(&format!(
            "<SendOnBehalfOf>{SOBO}</SendOnBehalfOf><IntegratorKey>{KEY}</IntegratorKey>\
             <Password>{PASSWORD}</Password><Username>{USER}</Username>"
        ));
        assert_eq!(parse(&raw), Ok(seed_credentials(Some(SOBO))));
    }

    #[test]
    fn parses_pretty_printed_xml_with_declaration_and_comments() {
        let raw = format!(
            "\r\n  <?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <!-- legacy client -->\n\
             <DocuSignCredentials>\n\
             \t<Username>\n\t\t{USER}\n\t</Username>\n\
             \t<!-- the API password -->\n\
             \t<Password>{PASSWORD}</Password>\r\n\
             \t<IntegratorKey>  {KEY}  </IntegratorKey>\n\
             </DocuSignCredentials>\n<!-- end -->\n"
        );
        assert_eq!(parse(&raw), Ok(seed_credentials(None)));
    }

    #[test]
    fn parses_xml_with_namespace_prefix_and_attributes() {
        let raw = format!(
            "<ds:DocuSignCredentials xmlns:ds=\"urn:docusign\" version='1'>\
             <ds:Username>{USER}</ds:Username><ds:Password>{PASSWORD}</ds:Password>\
             <IntegratorKey xmlns=\"urn:other\">{KEY}</IntegratorKey></ds:DocuSignCredentials>"
        );
        assert_eq!(parse(&raw), Ok(seed_credentials(None)));
    }

    #[test]
    fn decodes_json_escapes_and_trims_values() {
        let raw = r#" { "Username" : " a\"b\\c\u003cd " , "Password":"p\u00e9\/\n" ,
            "IntegratorKey": "\u0020key\t" } "#;
        assert_eq!(
            parse(raw),
            Ok(credentials("a\"b\\c<d", "p\u{e9}/", "key", None))
        );
    }

    #[test]
    fn decodes_xml_predefined_and_numeric_entities() {
        let raw = xml_with_body(
            "<Username>&lt;&amp;&quot;&#x41;&#66;&apos;&gt;</Username>\
             <Password>&#60;&#x3C;&#x4e2d;</Password><IntegratorKey>k&amp;</IntegratorKey>",
        );
        assert_eq!(
            parse(&raw),
            Ok(credentials("<&\"AB'>", "<<\u{4e2d}", "k&", None))
        );
    }

    #[test]
    fn takes_xml_cdata_literally() {
        let raw = xml_with_body(
            "<Username>u</Username><Password><![CDATA[&lt;<x>&foo;]]>&amp;<![CDATA[]]]></Password>\
             <IntegratorKey>k</IntegratorKey>",
        );
        assert_eq!(
            parse(&raw),
            Ok(credentials("u", "&lt;<x>&foo;&]", "k", None))
        );
    }

    #[test]
    fn matches_xml_element_names_case_insensitively() {
        let raw = "<docusigncredentials><USERNAME>u</USERNAME><password>p</password>\
                   <integratorKey>k</integratorKey><sendonbehalfof>s</sendonbehalfof></docusigncredentials>";
        assert_eq!(parse(raw), Ok(credentials("u", "p", "k", Some("s"))));
    }

    #[test]
    fn matches_json_keys_case_insensitively() {
        let raw = r#"{"username":"u","PASSWORD":"p","integratorkey":"k","sendOnBehalfOf":"s"}"#;
        assert_eq!(parse(raw), Ok(credentials("u", "p", "k", Some("s"))));
    }

    #[test]
    fn ignores_unknown_json_keys_with_scalar_values() {
        let raw = r#"{"Username":"u","Password":"p","IntegratorKey":"k","Extra":"x","N":1.5,"B":true,"Z":null,"I":-3}"#;
        assert_eq!(parse(raw), Ok(credentials("u", "p", "k", None)));
    }

    #[test]
    fn ignores_unknown_xml_elements_with_text() {
        let raw = xml_with_body(
            "<Username>u</Username><Extra>x &amp; y</Extra><Password>p</Password><Empty/>\
             <IntegratorKey>k</IntegratorKey>",
        );
        assert_eq!(parse(&raw), Ok(credentials("u", "p", "k", None)));
    }

    #[test]
    fn treats_empty_or_null_send_on_behalf_of_as_absent() {
        for raw in [
            r#"{"Username":"u","Password":"p","IntegratorKey":"k","SendOnBehalfOf":null}"#,
            r#"{"Username":"u","Password":"p","IntegratorKey":"k","SendOnBehalfOf":"  "}"#,
            "<DocuSignCredentials><Username>u</Username><Password>p</Password>\
             <IntegratorKey>k</IntegratorKey><SendOnBehalfOf> </SendOnBehalfOf></DocuSignCredentials>",
            "<DocuSignCredentials><Username>u</Username><Password>p</Password>\
             <IntegratorKey>k</IntegratorKey><SendOnBehalfOf/></DocuSignCredentials>",
        ] {
            assert_eq!(parse(raw), Ok(credentials("u", "p", "k", None)), "{raw}");
        }
    }

    #[test]
    fn refuses_billion_laughs_doctype() {
        let mut entities = String::from("<!ENTITY lol \"lol\">");
        for level in 1..=9 {
            let previous = if level == 1 {
                "lol".to_owned()
            } else {
                format!("lol{}", level - 1)
            };
            let body = format!("&{previous};").repeat(10);
            entities.push_str(&format!("<!ENTITY lol{level} \"{body}\">"));
        }
        let raw = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE lolz [{entities}]>\
             <DocuSignCredentials><Username>&lol9;</Username><Password>p</Password>\
             <IntegratorKey>k</IntegratorKey></DocuSignCredentials>"
        );
        assert!(raw.len() < MAX_HEADER_LEN);
        assert_eq!(parse(&raw), Err(LegacyHeaderError::Malformed));
    }

    #[test]
    fn refuses_xxe_doctype() {
        let raw = "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\
                   <DocuSignCredentials><Username>&xxe;</Username><Password>p</Password>\
                   <IntegratorKey>k</IntegratorKey></DocuSignCredentials>";
        assert_eq!(parse(raw), Err(LegacyHeaderError::Malformed));
    }

    #[test]
    fn refuses_doctype_anywhere_in_the_document() {
        for raw in [
            "<!DOCTYPE DocuSignCredentials><DocuSignCredentials><Username>u</Username>\
             <Password>p</Password><IntegratorKey>k</IntegratorKey></DocuSignCredentials>",
            "<DocuSignCredentials><!DOCTYPE x><Username>u</Username>\
             <Password>p</Password><IntegratorKey>k</IntegratorKey></DocuSignCredentials>",
            "<DocuSignCredentials><Username>u</Username>\
             <Password>p</Password><IntegratorKey>k</IntegratorKey></DocuSignCredentials><!DOCTYPE x>",
        ] {
            assert_eq!(parse(raw), Err(LegacyHeaderError::Malformed), "{raw}");
        }
    }

    #[test]
    fn refuses_unknown_entities() {
        for body in [
            "<Username>&foo;</Username><Password>p</Password><IntegratorKey>k</IntegratorKey>",
            "<Username>u</Username><Password>p</Password><IntegratorKey>k</IntegratorKey><X>&nbsp;</X>",
            "<Username>a & b</Username><Password>p</Password><IntegratorKey>k</IntegratorKey>",
            "<Username>&#0;</Username><Password>p</Password><IntegratorKey>k</IntegratorKey>",
            "<Username>&#xD800;</Username><Password>p</Password><IntegratorKey>k</IntegratorKey>",
        ] {
            assert_eq!(
                parse(&xml_with_body(body)),
                Err(LegacyHeaderError::Malformed),
                "{body}"
            );
        }
        let attribute = "<DocuSignCredentials a=\"&foo;\"><Username>u</Username><Password>p</Password>\
                         <IntegratorKey>k</IntegratorKey></DocuSignCredentials>";
        assert_eq!(parse(attribute), Err(LegacyHeaderError::Malformed));
    }

    #[test]
    fn refuses_processing_instructions_other_than_a_leading_declaration() {
        let body = "<Username>u</Username><Password>p</Password><IntegratorKey>k</IntegratorKey>";
        for raw in [
            format!(
                "<?xml-stylesheet href=\"x\"?><DocuSignCredentials>{body}</DocuSignCredentials>"
            ),
            format!("<DocuSignCredentials><?php x?>{body}</DocuSignCredentials>"),
            format!(
                "<!-- c --><?xml version=\"1.0\"?><DocuSignCredentials>{body}</DocuSignCredentials>"
            ),
            format!(
                "<?xml version=\"1.0\"?><?xml version=\"1.0\"?><DocuSignCredentials>{body}</DocuSignCredentials>"
            ),
        ] {
            assert_eq!(parse(&raw), Err(LegacyHeaderError::Malformed), "{raw}");
        }
    }

    #[test]
    fn refuses_header_over_8_kib() {
        let padding = " ".repeat(MAX_HEADER_LEN);
        let raw = format!(r#"{{"Username":"u","Password":"p","IntegratorKey":"k"}}{padding}"#);
        assert_eq!(parse(&raw), Err(LegacyHeaderError::TooLong));
        let long = "x".repeat(MAX_HEADER_LEN);
        let raw = xml_with_body(&format!(
            "<Username>{long}</Username><Password>p</Password><IntegratorKey>k</IntegratorKey>"
        ));
        assert_eq!(parse(&raw), Err(LegacyHeaderError::TooLong));
    }

    #[test]
    fn accepts_fields_up_to_the_limit_and_refuses_longer_ones() {
        let max = "x".repeat(MAX_FIELD_LEN);
        let raw = build_header(HeaderFormat::Json, &max, "p", "k", None);
        assert_eq!(parse(&raw), Ok(credentials(&max, "p", "k", None)));
        let over = "x".repeat(MAX_FIELD_LEN + 1);
        for format in [HeaderFormat::Json, HeaderFormat::Xml] {
            let raw = build_header(format, "u", &over, "k", None);
            assert_eq!(parse(&raw), Err(LegacyHeaderError::TooLong));
            let raw = build_header(format, "u", "p", "k", Some(&over));
            assert_eq!(parse(&raw), Err(LegacyHeaderError::TooLong));
        }
    }

    #[test]
    fn reports_missing_integrator_key_before_missing_credentials() {
        for raw in [
            r#"{"Username":"u","Password":"p"}"#,
            r#"{"IntegratorKey":" "}"#,
            "<DocuSignCredentials><Username>u</Username><Password>p</Password></DocuSignCredentials>",
            "<DocuSignCredentials><IntegratorKey></IntegratorKey></DocuSignCredentials>",
            "<DocuSignCredentials/>",
            "{}",
        ] {
            assert_eq!(
                parse(raw),
                Err(LegacyHeaderError::MissingIntegratorKey),
                "{raw}"
            );
        }
    }

    #[test]
    fn refuses_missing_password() {
        for raw in [
            r#"{"Username":"u","IntegratorKey":"k"}"#,
            "<DocuSignCredentials><Username>u</Username><IntegratorKey>k</IntegratorKey></DocuSignCredentials>",
        ] {
            assert_eq!(
                parse(raw),
                Err(LegacyHeaderError::MissingCredentials),
                "{raw}"
            );
        }
    }

    #[test]
    fn refuses_empty_username() {
        for raw in [
            r#"{"Username":"","Password":"p","IntegratorKey":"k"}"#,
            r#"{"Username":" \t ","Password":"p","IntegratorKey":"k"}"#,
            "<DocuSignCredentials><Username/><Password>p</Password><IntegratorKey>k</IntegratorKey></DocuSignCredentials>",
            "<DocuSignCredentials><Username> </Username><Password>p</Password><IntegratorKey>k</IntegratorKey></DocuSignCredentials>",
        ] {
            assert_eq!(
                parse(raw),
                Err(LegacyHeaderError::MissingCredentials),
                "{raw}"
            );
        }
    }

    #[test]
    fn refuses_nested_elements() {
        for body in [
            "<Username><b>u</b></Username><Password>p</Password><IntegratorKey>k</IntegratorKey>",
            "<Username>u<br/></Username><Password>p</Password><IntegratorKey>k</IntegratorKey>",
            "<Username>u</Username><Password>p</Password><IntegratorKey>k</IntegratorKey><X><Y>1</Y></X>",
        ] {
            assert_eq!(
                parse(&xml_with_body(body)),
                Err(LegacyHeaderError::Malformed),
                "{body}"
            );
        }
    }

    #[test]
    fn refuses_duplicate_fields() {
        for raw in [
            r#"{"Username":"u","username":"v","Password":"p","IntegratorKey":"k"}"#,
            r#"{"Username":"u","Password":"p","IntegratorKey":"k","SendOnBehalfOf":null,"SendOnBehalfOf":"s"}"#,
            "<DocuSignCredentials><Username>u</Username><USERNAME>v</USERNAME><Password>p</Password>\
             <IntegratorKey>k</IntegratorKey></DocuSignCredentials>",
            "<DocuSignCredentials><Username>u</Username><Password>p</Password><Password/>\
             <IntegratorKey>k</IntegratorKey></DocuSignCredentials>",
        ] {
            assert_eq!(parse(raw), Err(LegacyHeaderError::Malformed), "{raw}");
        }
    }

    #[test]
    fn refuses_non_string_json_values() {
        for raw in [
            r#"{"Username":1,"Password":"p","IntegratorKey":"k"}"#,
            r#"{"Username":null,"Password":"p","IntegratorKey":"k"}"#,
            r#"{"Username":"u","Password":["p"],"IntegratorKey":"k"}"#,
            r#"{"Username":"u","Password":"p","IntegratorKey":{"k":"k"}}"#,
            r#"{"Username":"u","Password":"p","IntegratorKey":"k","Extra":{"a":1}}"#,
            r#"{"Username":"u","Password":"p","IntegratorKey":"k","Extra":[1]}"#,
            r#"["u","p","k"]"#,
        ] {
            assert_eq!(parse(raw), Err(LegacyHeaderError::Malformed), "{raw}");
        }
    }

    #[test]
    fn refuses_trailing_content() {
        for raw in [
            r#"{"Username":"u","Password":"p","IntegratorKey":"k"} x"#,
            r#"{"Username":"u","Password":"p","IntegratorKey":"k"}{}"#,
            "<DocuSignCredentials><Username>u</Username><Password>p</Password>\
             <IntegratorKey>k</IntegratorKey></DocuSignCredentials>x",
            "<DocuSignCredentials><Username>u</Username><Password>p</Password>\
             <IntegratorKey>k</IntegratorKey></DocuSignCredentials><DocuSignCredentials/>",
            "<DocuSignCredentials><Username>u</Username><Password>p</Password>\
             <IntegratorKey>k</IntegratorKey></DocuSignCredentials>&#32;",
        ] {
            assert_eq!(parse(raw), Err(LegacyHeaderError::Malformed), "{raw}");
        }
    }

    #[test]
    fn refuses_malformed_xml_structure() {
        for raw in [
            "<Credentials><Username>u</Username><Password>p</Password><IntegratorKey>k</IntegratorKey></Credentials>",
            "<DocuSignCredentials><Username>u</Username><Password>p</Password><IntegratorKey>k</IntegratorKey>",
            "<DocuSignCredentials><Username>u</Password></DocuSignCredentials>",
            "<DocuSignCredentials>text<Username>u</Username><Password>p</Password><IntegratorKey>k</IntegratorKey></DocuSignCredentials>",
            "<DocuSignCredentials><![CDATA[x]]><Username>u</Username><Password>p</Password><IntegratorKey>k</IntegratorKey></DocuSignCredentials>",
            "<DocuSignCredentials a=\"1\" a=\"2\"><Username>u</Username><Password>p</Password><IntegratorKey>k</IntegratorKey></DocuSignCredentials>",
            "<!-- only a comment -->",
            "<",
        ] {
            assert_eq!(parse(raw), Err(LegacyHeaderError::Malformed), "{raw}");
        }
    }

    /// `pässwörd-é` as Node.js and Java clients send it: one byte per character.
    const LATIN1_PASSWORD: &[u8] = b"p\xe4ssw\xf6rd-\xe9";

    fn json_bytes(password: &[u8]) -> Vec<u8> {
        let mut raw = br#"{"Username":"u","Password":""#.to_vec();
        raw.extend_from_slice(password);
        raw.extend_from_slice(br#"","IntegratorKey":"k"}"#);
        raw
    }

    fn xml_bytes(password: &[u8]) -> Vec<u8> {
        let mut raw = b"<DocuSignCredentials><Username>u</Username><Password>".to_vec();
        raw.extend_from_slice(password);
        raw.extend_from_slice(b"</Password><IntegratorKey>k</IntegratorKey></DocuSignCredentials>");
        raw
    }

    #[test]
    fn reads_a_latin1_password_as_iso_8859_1_in_json_and_xml() {
        let expected = Ok(credentials("u", "pässwörd-é", "k", None));
        assert_eq!(parse_header(&json_bytes(LATIN1_PASSWORD)), expected);
        assert_eq!(parse_header(&xml_bytes(LATIN1_PASSWORD)), expected);
    }

    #[test]
    fn reads_a_utf8_password_as_utf8_in_json_and_xml() {
        let utf8 = "pässwörd-é".as_bytes();
        let expected = Ok(credentials("u", "pässwörd-é", "k", None));
        assert_eq!(parse_header(&json_bytes(utf8)), expected);
        assert_eq!(parse_header(&xml_bytes(utf8)), expected);
    }

    #[test]
    fn reads_every_byte_of_a_non_utf8_header_as_the_character_of_that_number() {
        assert_eq!(
            parse_header(&json_bytes(&[0xff, 0xfe, 0x80, 0xa0, b'x'])),
            Ok(credentials("u", "\u{ff}\u{fe}\u{80}\u{a0}x", "k", None))
        );
        // A Latin-1 username and on-behalf-of user decode the same way.
        assert_eq!(
            parse_header(
                b"{\"Username\":\"j\xf6rg\",\"Password\":\"p\",\"IntegratorKey\":\"k\",\"SendOnBehalfOf\":\"ren\xe9e\"}"
            ),
            Ok(credentials("jörg", "p", "k", Some("renée")))
        );
    }

    #[test]
    fn a_header_mixing_utf8_and_latin1_is_read_entirely_as_latin1() {
        // `ä` in UTF-8 (C3 A4) next to a lone Latin-1 `é` (E9): the whole value is ISO-8859-1,
        // so the UTF-8 `ä` reads as two characters and the password is not `pä…é`.
        let mut password = "pä".as_bytes().to_vec();
        password.push(0xe9);
        assert_eq!(
            parse_header(&json_bytes(&password)),
            Ok(credentials("u", "p\u{c3}\u{a4}\u{e9}", "k", None))
        );
    }

    #[test]
    fn latin1_decoding_refuses_what_it_refused_before() {
        assert_eq!(parse_header(&[0xc3]), Err(LegacyHeaderError::Malformed));
        assert_eq!(
            parse_header(b"\xe9{\"Username\":\"u\"}"),
            Err(LegacyHeaderError::Malformed)
        );
        // Eight KiB is counted in bytes received, before decoding.
        let mut long = json_bytes(&vec![0xe9; 1000]);
        long.resize(MAX_HEADER_LEN + 1, b' ');
        assert_eq!(parse_header(&long), Err(LegacyHeaderError::TooLong));
        // Each Latin-1 byte is two UTF-8 bytes once decoded: 600 of them exceed a field's limit.
        assert_eq!(
            parse_header(&json_bytes(&vec![0xe9; 600])),
            Err(LegacyHeaderError::TooLong)
        );
    }

    #[test]
    fn refuses_garbage() {
        for raw in [
            "",
            "   ",
            "Basic dXNlcjpwYXNz",
            "username=u&password=p",
            "{",
            "{\"Username\":\"u\"",
            "{'Username':'u'}",
            r#"{"Username":"\ud800","Password":"p","IntegratorKey":"k"}"#,
            "<>",
        ] {
            assert_eq!(parse(raw), Err(LegacyHeaderError::Malformed), "{raw:?}");
        }
    }

    #[test]
    fn debug_of_credentials_redacts_the_password() {
        let parsed = parse(&build_header(HeaderFormat::Json, "u", "hunter2", "k", None));
        assert!(!format!("{parsed:?}").contains("hunter2"));
    }

    #[test]
    fn builds_xml_in_the_documented_shape() {
        assert_eq!(
            build_header(HeaderFormat::Xml, USER, PASSWORD, KEY, Some(SOBO)),
            format!(
                "<DocuSignCredentials><Username>{USER}</Username><Password>{PASSWORD}</Password>\
                 <IntegratorKey>{KEY}</IntegratorKey><SendOnBehalfOf>{SOBO}</SendOnBehalfOf>\
                 </DocuSignCredentials>"
            )
        );
        assert_eq!(
            build_header(HeaderFormat::Xml, "a<b", "&'\"", "k>", None),
            "<DocuSignCredentials><Username>a&lt;b</Username><Password>&amp;&apos;&quot;</Password>\
             <IntegratorKey>k&gt;</IntegratorKey></DocuSignCredentials>"
        );
    }

    #[test]
    fn builds_json_in_the_documented_order() {
        assert_eq!(
            build_header(HeaderFormat::Json, USER, PASSWORD, KEY, None),
            format!(r#"{{"Username":"{USER}","Password":"{PASSWORD}","IntegratorKey":"{KEY}"}}"#)
        );
        assert_eq!(
            build_header(HeaderFormat::Json, "u\"", "p\\", "k", Some("s")),
            r#"{"Username":"u\"","Password":"p\\","IntegratorKey":"k","SendOnBehalfOf":"s"}"#
        );
    }

    #[test]
    fn builds_single_line_headers_that_round_trip_control_characters() {
        let password = "a\r\nb\u{7f}c\u{1}d\te";
        for format in [HeaderFormat::Xml, HeaderFormat::Json] {
            let raw = build_header(format, "u", password, "k", None);
            assert!(
                !raw.chars().any(|c| c.is_control() && c != '\t'),
                "{format:?}: {raw:?}"
            );
            assert_eq!(parse(&raw), Ok(credentials("u", password, "k", None)));
        }
        assert!(build_header(HeaderFormat::Xml, "u", "a\r\nb", "k", None).contains("a&#13;&#10;b"));
    }

    fn value() -> impl Strategy<Value = String> {
        "[ -~\\n\\r\\t\\u{e9}\\u{4e2d}\\u{1f600}]{1,40}"
            .prop_filter("no surrounding whitespace", |v| {
                !v.is_empty() && v.trim_ascii().len() == v.len()
            })
    }

    /// Values of ISO-8859-1 characters (every one U+0001–U+00FF), without surrounding whitespace.
    fn latin1_value() -> impl Strategy<Value = String> {
        "[\\u{1}-\\u{ff}]{1,40}".prop_filter("no surrounding whitespace", |v| {
            v.trim_ascii().len() == v.len()
        })
    }

    proptest! {
        #[test]
        fn built_headers_round_trip_in_both_formats(
            username in value(),
            password in value(),
            key in value(),
            sobo in proptest::option::of(value()),
        ) {
            let expected = credentials(&username, &password, &key, sobo.as_deref());
            for format in [HeaderFormat::Xml, HeaderFormat::Json] {
                let raw = build_header(format, &username, &password, &key, sobo.as_deref());
                prop_assert!(!raw.contains(['\r', '\n']));
                prop_assert_eq!(parse(&raw), Ok(expected.clone()), "{:?}", raw);
            }
        }

        #[test]
        fn latin1_headers_round_trip_in_both_formats(
            username in latin1_value(),
            password in latin1_value(),
            key in latin1_value(),
            sobo in proptest::option::of(latin1_value()),
        ) {
            // A trailing `é` (the byte 0xE9 before a `<` or `"`) keeps the bytes invalid UTF-8,
            // as a Node.js client's are whenever the password holds a non-ASCII character.
            let password = format!("{password}é");
            let expected = credentials(&username, &password, &key, sobo.as_deref());
            for format in [HeaderFormat::Xml, HeaderFormat::Json] {
                let built = build_header(format, &username, &password, &key, sobo.as_deref());
                let raw: Vec<u8> = built
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).expect("a Latin-1 character"))
                    .collect();
                prop_assert!(std::str::from_utf8(&raw).is_err());
                prop_assert_eq!(parse_header(&raw), Ok(expected.clone()), "{:?}", built);
            }
        }

        #[test]
        fn bytes_are_read_as_utf8_else_as_iso_8859_1(
            raw in proptest::collection::vec(any::<u8>(), 0..2048),
        ) {
            let text = match std::str::from_utf8(&raw) {
                Ok(text) => text.to_owned(),
                Err(_) => raw.iter().map(|&b| char::from(b)).collect(),
            };
            prop_assert_eq!(parse_header(&raw), parse(&text));
        }

        #[test]
        fn parse_never_panics_on_arbitrary_bytes(
            raw in proptest::collection::vec(any::<u8>(), 0..10 * 1024),
        ) {
            let _ = parse_header(&raw);
        }

        #[test]
        fn parse_never_panics_on_xml_or_json_like_text(
            raw in "[<>/?!&#;:x{}\\[\\]\",\\\\ a-zA-Z0-9\\n-]{0,300}",
            prefix in prop::sample::select(vec![
                "<DocuSignCredentials>", "<DocuSignCredentials><Username>", "{\"Username\":", "<", "{",
            ]),
        ) {
            let _ = parse(&format!("{prefix}{raw}"));
        }
    }
}
