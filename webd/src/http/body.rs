//! Reading a webhook's body: its size bound, and the JSON object or form
//! it carries parsed into [`Fields`], refusing what could be read two ways
//! (a key given twice, a header given twice, JSON labelled as a form).

use std::collections::HashSet;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use http_body_util::BodyExt as _;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

use super::error::ApiError;

/// Reads the body, refusing one longer than `limit` (declared or sent).
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge { limit });
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::TooLarge { limit }),
        Err(_) => Err(ApiError::bad("body", "the body could not be read")),
    }
}

/// What a request body may carry.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fields {
    /// The token, when not in the `Authorization` header.
    pub token: Option<String>,
    /// A colour name or `#rrggbb`.
    pub color: Option<String>,
    /// Speed in percent.
    pub speed: Option<u64>,
    /// Duration in seconds.
    pub duration: Option<u64>,
}

/// The longest field name echoed back in an error.
const MAX_ECHO: usize = 40;

pub(crate) fn echo(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_ECHO)
        .collect()
}

/// The value of a header that may appear at most once: two of them are a
/// 400 naming the header, since webd would have to guess which one counts.
pub(crate) fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &str,
    shown: &str,
) -> Result<Option<&'h HeaderValue>, ApiError> {
    let mut all = headers.get_all(name).iter();
    match (all.next(), all.next()) {
        (first, None) => Ok(first),
        _ => Err(header_twice(shown)),
    }
}

/// The 400 for a header given twice.
pub(crate) fn header_twice(shown: &str) -> ApiError {
    ApiError::bad(
        shown,
        format!("the {shown} header is given more than once: send it once"),
    )
}

/// Whether a body is plainly JSON: its first non-blank byte opens an object
/// or an array. A form never starts so (a form encoder escapes `{` and `[`).
fn looks_like_json(body: &[u8]) -> bool {
    matches!(
        body.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

impl Fields {
    /// Parses a JSON object or a form, as the `Content-Type` says. An empty
    /// body is no fields. A body whose type is missing or contradicts it
    /// (JSON labelled as a form, as curl's `-d` does) is refused with 415
    /// naming the header, rather than read one way and its fields dropped.
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Fields, ApiError> {
        let content_type = single_header(headers, header::CONTENT_TYPE.as_str(), "Content-Type")?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Fields::default());
        }
        let essence = content_type.map(|v| {
            v.to_str()
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        let unsupported = |message: String| ApiError::UnsupportedMediaType { message };
        match essence.as_deref() {
            Some("application/json") => Fields::parse_json(body),
            Some("application/x-www-form-urlencoded") if looks_like_json(body) => Err(unsupported(
                "the body is JSON but its Content-Type says application/x-www-form-urlencoded (curl's -d does that): send `Content-Type: application/json`".to_owned(),
            )),
            Some("application/x-www-form-urlencoded") => Fields::parse_form(body),
            None if looks_like_json(body) => Err(unsupported(
                "the body is JSON but has no Content-Type: send `Content-Type: application/json`".to_owned(),
            )),
            None => Err(unsupported(
                "the body has no Content-Type: send `Content-Type: application/json` or `Content-Type: application/x-www-form-urlencoded`".to_owned(),
            )),
            Some(other) => Err(unsupported(format!(
                "Content-Type `{}` is not supported: send `Content-Type: application/json` or `Content-Type: application/x-www-form-urlencoded`",
                echo(other)
            ))),
        }
    }

    fn parse_form(body: &[u8]) -> Result<Fields, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| ApiError::bad("body", "the body is not a valid form"))?;
        let mut fields = Fields::default();
        for (k, v) in pairs {
            fields.set(&k, v)?;
        }
        Ok(fields)
    }

    /// Reads a JSON object straight into the fields, refusing a key given
    /// twice (a map type would keep one of them silently).
    fn parse_json(body: &[u8]) -> Result<Fields, ApiError> {
        let mut fields = Fields::default();
        let mut refused = None;
        let mut de = serde_json::Deserializer::from_slice(body);
        let seed = JsonObject {
            fields: &mut fields,
            refused: &mut refused,
        };
        let parsed = seed.deserialize(&mut de).and_then(|()| de.end());
        if let Some(e) = refused {
            return Err(e);
        }
        match parsed {
            Ok(()) => Ok(fields),
            Err(e) if e.is_data() => Err(ApiError::bad("body", "the body must be a JSON object")),
            Err(e) => Err(ApiError::bad(
                "body",
                format!(
                    "the body is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )),
        }
    }

    /// One JSON member: `null` is absent, strings and numbers are text,
    /// anything else is a 400 naming the key.
    fn set_json(&mut self, key: &str, value: serde_json::Value) -> Result<(), ApiError> {
        let text = match value {
            serde_json::Value::Null => return Ok(()),
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            _ => return Err(ApiError::bad(echo(key), "must be a string or a number")),
        };
        self.set(key, text)
    }

    fn set(&mut self, key: &str, value: String) -> Result<(), ApiError> {
        let number = |field: &str, v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::bad(field, format!("`{}` is not a whole number", echo(v))))
        };
        let dup = || ApiError::bad(echo(key), "is given twice");
        // An empty value (an IFTTT ingredient that was blank) counts as absent.
        if value.trim().is_empty() && key != "token" {
            return Ok(());
        }
        let replaced = match key {
            "token" => self.token.replace(value).is_some(),
            "color" | "colour" => self.color.replace(value).is_some(),
            "speed" => self.speed.replace(number("speed", &value)?).is_some(),
            "duration" => self.duration.replace(number("duration", &value)?).is_some(),
            // Senders add fields of their own (IFTTT ingredients such as
            // value1, a "source"): ignored, never echoed. The body is already
            // bounded by limits.max_body_bytes.
            _ => false,
        };
        if replaced {
            return Err(dup());
        }
        Ok(())
    }

    /// The first parameter field present, for an error naming it.
    pub(crate) fn first_param(&self) -> Option<&'static str> {
        if self.color.is_some() {
            Some("color")
        } else if self.speed.is_some() {
            Some("speed")
        } else if self.duration.is_some() {
            Some("duration")
        } else {
            None
        }
    }
}

/// Deserializes a top-level JSON object into [`Fields`] member by member.
/// The first refusal is kept in `refused` (the JSON error that stops the
/// parse carries no field name).
struct JsonObject<'a> {
    fields: &'a mut Fields,
    refused: &'a mut Option<ApiError>,
}

impl<'de> DeserializeSeed<'de> for JsonObject<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for JsonObject<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Keys as the sender meant them (escapes resolved), so `"tok\u0065n"`
        // is `token` too. Bounded by the body limit.
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let value: serde_json::Value = map.next_value()?;
            let result = if seen.contains(&key) {
                Err(ApiError::bad(
                    echo(&key),
                    "is given twice: send each field once",
                ))
            } else {
                let r = self.fields.set_json(&key, value);
                seen.insert(key);
                r
            };
            if let Err(e) = result {
                *self.refused = Some(e);
                return Err(de::Error::custom("refused member"));
            }
        }
        Ok(())
    }
}
