//! Input shapes shared by the webd targets: a request head as text lines.
// Each target includes this module and uses part of it.
#![allow(dead_code)]

use http::{HeaderMap, HeaderName, HeaderValue};

/// Splits `data` at the first blank line: the part before is header lines
/// (`name: value`, one a line), the rest is the body. Lines that are no
/// valid header are skipped, as hyper would refuse them before webd.
pub fn head_and_body(data: &[u8]) -> (HeaderMap, &[u8]) {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    (headers(head), body)
}

/// Header lines, `name: value` one a line; a name may repeat.
pub fn headers(head: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in head.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim_ascii()),
            HeaderValue::from_bytes(value),
        ) {
            map.append(name, value);
        }
    }
    map
}
