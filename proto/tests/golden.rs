//! Round trips and frozen bytes for every message.
//!
//! The bytes below are the wire format. If one of these tests fails, an
//! encoding changed: old clients and daemons would misread the new one. Add
//! new variants at the end of their enum instead, or bump `VERSION` and
//! update the bytes on purpose.

// A test or a measurement: a failed step fails it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tinsel_proto::*;

fn params() -> PlayParams {
    PlayParams {
        color: Some(Rgb::new(255, 16, 1)),
        speed: Speed::new(250).unwrap(),
        duration: Some(PlaySeconds::new(90).unwrap()),
        fade: Some(FadeMillis::new(5000).unwrap()),
    }
}

fn status() -> Status {
    Status {
        playing: Some(Playing {
            animation: Animation::Fire,
            params: PlayParams::default(),
            remaining_secs: Some(30),
        }),
        brightness: Brightness::new(40).unwrap(),
        led_count: 150,
        target_fps: 60,
        stats: FrameStats {
            frames: 1000,
            fps_milli: 60_000,
            late_frames: 2,
            worst_late_us: 1500,
            p99_late_us: 200,
            render_p50_us: 35,
            render_max_us: 90,
            command_p50_us: 8000,
            command_p99_us: 16000,
        },
        power: Power {
            milliamps: 1800,
            budget_milliamps: 2000,
            limited: false,
        },
    }
}

/// Every request variant with its frozen frame bytes (prefix included).
fn requests() -> Vec<(Request, Vec<u8>)> {
    vec![
        (Request::Hello { version: 1 }, vec![2, 0, 0, 1]),
        (Request::Hello { version: 300 }, vec![3, 0, 0, 0xac, 0x02]),
        (
            Request::Play {
                animation: Animation::Rainbow,
                params: PlayParams::default(),
            },
            vec![6, 0, 1, 1, 0, 100, 0, 0],
        ),
        (
            Request::Play {
                animation: Animation::Aurora,
                params: params(),
            },
            vec![
                13, 0, 1, 16, 1, 255, 16, 1, 0xfa, 0x01, 1, 90, 1, 0x88, 0x27,
            ],
        ),
        (Request::Off, vec![1, 0, 2]),
        (
            Request::SetBrightness(Brightness::new(77).unwrap()),
            vec![2, 0, 3, 77],
        ),
        (Request::Status, vec![1, 0, 4]),
        (Request::Watch { fps: 30 }, vec![2, 0, 5, 30]),
        (Request::Snapshot, vec![1, 0, 6]),
        (Request::Subscribe, vec![1, 0, 7]),
        (
            Request::FadeOff(FadeMillis::new(60_000).unwrap()),
            vec![4, 0, 8, 0xe0, 0xd4, 0x03],
        ),
    ]
}

/// Every response variant with its frozen frame bytes.
fn responses() -> Vec<(Response, Vec<u8>)> {
    vec![
        (
            Response::Welcome(Welcome {
                version: 1,
                role: Role::Hooks,
                led_count: 150,
                animations: [Animation::Solid, Animation::Fire].into_iter().collect(),
                white: true,
            }),
            vec![8, 0, 0, 1, 1, 0x96, 0x01, 0x81, 0x04, 1],
        ),
        (Response::Ok, vec![1, 0, 1]),
        (
            Response::Status(status()),
            vec![
                34, 0, 2, // Status
                1, 9, 0, 100, 0, 0, 1, 30, // playing: Fire, default params, 30 s left
                40, 0x96, 0x01, 60, // brightness, led_count, target_fps
                0xe8, 0x07, 0xe0, 0xd4, 0x03, 2, 0xdc, 0x0b, 0xc8, 0x01, 35, 90, 0xc0, 0x3e, 0x80,
                0x7d, // stats
                0x88, 0x0e, 0xd0, 0x0f, 0, // power
            ],
        ),
        (
            Response::Frame(FrameChunk {
                frame: 7,
                offset: 2,
                total: 4,
                pixels: Pixels::from_rgb(&[Rgb::new(1, 2, 3), Rgb::new(4, 5, 6)]).unwrap(),
            }),
            vec![11, 0, 3, 7, 2, 4, 6, 1, 2, 3, 4, 5, 6],
        ),
        (
            Response::Error(ErrorReply::new(ErrorCode::Forbidden, "no")),
            vec![5, 0, 4, 3, 2, b'n', b'o'],
        ),
        (
            Response::State(status()),
            vec![
                34, 0, 5, // State: the same Status as a push
                1, 9, 0, 100, 0, 0, 1, 30, 40, 0x96, 0x01, 60, 0xe8, 0x07, 0xe0, 0xd4, 0x03, 2,
                0xdc, 0x0b, 0xc8, 0x01, 35, 90, 0xc0, 0x3e, 0x80, 0x7d, 0x88, 0x0e, 0xd0, 0x0f, 0,
            ],
        ),
    ]
}

#[test]
fn requests_round_trip_with_frozen_bytes() {
    for (req, bytes) in requests() {
        let wire = encode(&req).unwrap();
        assert_eq!(wire, bytes, "encoding of {req:?} changed");
        assert_eq!(
            decode::<Request>(&bytes),
            Ok(Decoded::Frame {
                msg: req,
                consumed: bytes.len()
            })
        );
    }
}

#[test]
fn responses_round_trip_with_frozen_bytes() {
    for (resp, bytes) in responses() {
        let wire = encode(&resp).unwrap();
        assert_eq!(wire, bytes, "encoding of {resp:?} changed");
        assert_eq!(
            decode::<Response>(&bytes),
            Ok(Decoded::Frame {
                msg: resp,
                consumed: bytes.len()
            })
        );
    }
}

#[test]
fn every_variant_has_frozen_bytes() {
    // Guards the two lists above: a new variant without golden bytes fails.
    let mut req_tags: Vec<u8> = requests().iter().map(|(_, b)| b[2]).collect();
    req_tags.dedup();
    assert_eq!(req_tags, (0..=8).collect::<Vec<u8>>());
    let resp_tags: Vec<u8> = responses().iter().map(|(_, b)| b[2]).collect();
    assert_eq!(resp_tags, (0..=5).collect::<Vec<u8>>());
    // And no tag past the last known variant decodes.
    assert!(decode::<Request>(&[1, 0, 9]).is_err());
    assert!(decode::<Response>(&[1, 0, 6]).is_err());
}

#[test]
fn every_animation_and_error_code_keeps_its_index() {
    for (i, a) in Animation::ALL.iter().enumerate() {
        let req = Request::Play {
            animation: *a,
            params: PlayParams::default(),
        };
        assert_eq!(encode(&req).unwrap()[3], i as u8, "{a} moved");
    }
    let codes = [
        ErrorCode::VersionMismatch,
        ErrorCode::HelloExpected,
        ErrorCode::NotAllowed,
        ErrorCode::Forbidden,
        ErrorCode::FrameTooLong,
        ErrorCode::BadRequest,
        ErrorCode::InvalidParameter,
        ErrorCode::Busy,
        ErrorCode::Internal,
        ErrorCode::UnknownAnimation,
    ];
    for (i, code) in codes.iter().enumerate() {
        let wire = encode(&Response::Error(ErrorReply::new(*code, ""))).unwrap();
        assert_eq!(wire[3], i as u8, "{code:?} moved");
    }
    let names = [
        "solid",
        "rainbow",
        "rainbow-cycle",
        "theater-chase",
        "color-wipe",
        "twinkle",
        "sparkle",
        "breathe",
        "comet",
        "fire",
        "candy-cane",
        "snowfall",
        "meteor",
        "gradient",
        "festive",
        "fairy-lights",
        "aurora",
        "selftest",
    ];
    let ours: Vec<_> = Animation::ALL.iter().map(|a| a.name()).collect();
    assert_eq!(
        ours, names,
        "animation names are part of the CLI and config contract"
    );
}

#[test]
fn decoding_refuses_out_of_range_parameters() {
    // Speed 5 (below 10) in an otherwise valid Play frame.
    assert!(matches!(
        decode::<Request>(&[5, 0, 1, 1, 0, 5, 0]),
        Err(FrameError::Decode(_))
    ));
    // Brightness 101.
    assert!(decode::<Request>(&[2, 0, 3, 101]).is_err());
    // Duration 0.
    assert!(decode::<Request>(&[7, 0, 1, 1, 0, 100, 1, 0, 0]).is_err());
    // A fade of 60001 ms, in Play and in FadeOff; 60000 decodes.
    assert!(decode::<Request>(&[9, 0, 1, 1, 0, 100, 0, 1, 0xe1, 0xd4, 0x03]).is_err());
    assert!(decode::<Request>(&[4, 0, 8, 0xe1, 0xd4, 0x03]).is_err());
    assert!(decode::<Request>(&[4, 0, 8, 0xe0, 0xd4, 0x03]).is_ok());
    // Pixels not a multiple of three.
    assert!(decode::<Response>(&[9, 0, 3, 7, 2, 4, 4, 1, 2, 3, 4]).is_err());
}

#[test]
fn the_hello_of_any_version_is_recognised() {
    // A future client's Hello must still decode as Hello, so ledd can answer
    // with a clear version mismatch rather than "bad request".
    for version in [0u16, 2, 9999, u16::MAX] {
        let wire = encode(&Request::Hello { version }).unwrap();
        assert_eq!(wire[2], 0);
        assert!(matches!(
            decode::<Request>(&wire),
            Ok(Decoded::Frame { msg: Request::Hello { version: v }, .. }) if v == version
        ));
    }
}

#[test]
fn a_frame_holds_exactly_one_message() {
    // Every frozen frame with one byte more inside its payload: the message
    // still decodes, the byte after it must not be ignored.
    let grow = |bytes: &[u8]| {
        let len = u16::from_le_bytes([bytes[0], bytes[1]]) + 1;
        let mut v = len.to_le_bytes().to_vec();
        v.extend_from_slice(&bytes[2..]);
        v.push(0);
        v
    };
    for (req, bytes) in requests() {
        assert_eq!(
            decode::<Request>(&grow(&bytes)),
            Err(FrameError::Trailing { extra: 1 }),
            "{req:?} with a trailing byte"
        );
    }
    for (resp, bytes) in responses() {
        assert_eq!(
            decode::<Response>(&grow(&bytes)),
            Err(FrameError::Trailing { extra: 1 }),
            "{resp:?} with a trailing byte"
        );
    }
}
