//! `ledctl status`: asking ledd for its status, and printing it as text
//! or JSON.

use std::fmt::Write as _;

use serde_json::json;
use tinsel_client::LeddError;
use tinsel_client::blocking::Client;
use tinsel_proto::{PlaySeconds, Request, Response, Status};

/// ledd's status, over `c`.
pub(crate) fn status(c: &mut Client) -> Result<Status, LeddError> {
    match c.request(&Request::Status)? {
        Response::Status(s) => Ok(s),
        other => Err(LeddError::unexpected(&other)),
    }
}

/// The status as JSON, for `--json`.
pub(crate) fn status_json(s: &Status) -> serde_json::Value {
    let playing = s.playing.map(|p| {
        json!({
            "animation": p.animation.name(),
            "color": p.params.color.map(|c| c.to_string()),
            "speed": p.params.speed.get(),
            "duration_secs": p.params.duration.map(PlaySeconds::get),
            "remaining_secs": p.remaining_secs,
            "fade_ms": p.params.fade.map(tinsel_proto::FadeMillis::get),
        })
    });
    let st = &s.stats;
    json!({
        "playing": playing,
        "brightness": s.brightness.get(),
        "led_count": s.led_count,
        "target_fps": s.target_fps,
        "stats": {
            "frames": st.frames,
            "fps": f64::from(st.fps_milli) / 1000.0,
            "late_frames": st.late_frames,
            "worst_late_us": st.worst_late_us,
            "p99_late_us": st.p99_late_us,
            "render_p50_us": st.render_p50_us,
            "render_max_us": st.render_max_us,
            "command_p50_us": st.command_p50_us,
            "command_p99_us": st.command_p99_us,
        },
        "power": {
            "milliamps": s.power.milliamps,
            "budget_milliamps": s.power.budget_milliamps,
            "limited": s.power.limited,
        },
    })
}

/// The status as lines of text.
pub(crate) fn status_text(s: &Status) -> String {
    let mut out = String::new();
    match s.playing {
        Some(p) => {
            let _ = write!(
                out,
                "playing:    {} (speed {}%",
                p.animation, p.params.speed
            );
            if let Some(c) = p.params.color {
                let _ = write!(out, ", colour {c}");
            }
            if let Some(r) = p.remaining_secs {
                let _ = write!(out, ", {r} s left");
            }
            out.push_str(")\n");
        }
        None => out.push_str("playing:    nothing (off)\n"),
    }
    let st = &s.stats;
    let _ = writeln!(out, "brightness: {}%", s.brightness);
    let _ = writeln!(
        out,
        "strip:      {} LEDs at {} fps (measured {:.2})",
        s.led_count,
        s.target_fps,
        f64::from(st.fps_milli) / 1000.0
    );
    let _ = writeln!(
        out,
        "frames:     {} written, {} late (worst {} µs, p99 {} µs)",
        st.frames, st.late_frames, st.worst_late_us, st.p99_late_us
    );
    let _ = writeln!(
        out,
        "render:     p50 {} µs, max {} µs; command to frame p50 {} µs, p99 {} µs",
        st.render_p50_us, st.render_max_us, st.command_p50_us, st.command_p99_us
    );
    let budget = if s.power.budget_milliamps == 0 {
        "no limit".to_string()
    } else {
        format!("budget {} mA", s.power.budget_milliamps)
    };
    let _ = writeln!(
        out,
        "power:      {} mA ({budget}{})",
        s.power.milliamps,
        if s.power.limited { ", limiting" } else { "" }
    );
    out
}
