//! The body's fields: a first line with the Content-Type (empty: none),
//! then the body, parsed as webd parses a webhook's JSON object or form.
//! Any panic is a bug.
#![no_main]

use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use webd::http::body::Fields;

fuzz_target!(|data: &[u8]| {
    let (content_type, body) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&[][..], data),
    };
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(content_type)
        && !content_type.is_empty()
    {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(fields) = Fields::parse(&headers, body) {
        // What parsed once parses again the same.
        assert_eq!(Fields::parse(&headers, body).ok(), Some(fields));
    }
});
