//! `ledctl`: the local command line for ledd. Plays animations, switches
//! off, sets brightness, prints status and frames, and draws the strip live
//! in the terminal.
//!
//! This file is the command line and the one-shot commands; `status.rs`
//! prints ledd's status, `watch.rs` reads frames and draws them live.

mod status;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::json;
use tinsel_client::blocking::Client;
use tinsel_client::{Cause, LeddError, Peer};

use status::{status, status_json, status_text};
use tinsel_proto::{
    Animation, Brightness, ErrorCode, FadeMillis, PlayParams, PlaySeconds, Request, Response, Rgb,
    Speed,
};
use watch::{Layout, read_frame, watch};

const AFTER_HELP: &str = "\
Examples:
  ledctl play fire                        flickering embers until told otherwise
  ledctl play comet --color ice --speed 150
  ledctl play candy-cane --for 10m        then back to what played before
  ledctl play rainbow --fade 5s           crossfade for five seconds
  ledctl brightness 30
  ledctl off
  ledctl off --fade 1m                    dim to dark over a minute
  ledctl status --json | jq .stats.late_frames
  ledctl frame --json                     pixels after gamma/brightness/limit
  ledctl watch                            live preview in this terminal

Colours: #rrggbb, rrggbb or a name (red, green, blue, white, warm-white, yellow,
orange, gold, pink, purple, cyan, magenta, teal, ice, crimson, black).
Durations: 90, 90s, 15m, 2h (1 s to 24 h). Speed: 10 to 1000 percent.
Fades: 500ms, 1.5s, 5s, 1m (0 to 60 s; ledd's own is 400 ms).

Exit codes:
  0   done
  1   ledd refused the request (invalid parameter, busy, ...)
  64  bad command line
  69  cannot reach ledd (not running? wrong --socket?)
  76  protocol error (ledd and ledctl from different releases)
  77  not allowed: your user has no role, or the role may not do this";

const PLAY_HELP: &str = "\
Examples:
  ledctl play rainbow
  ledctl play solid --color warm-white
  ledctl play twinkle --color '#ff8800' --speed 50
  ledctl play candy-cane --for 10m        then back to what played before

Colours (--color): #rrggbb, rrggbb or a name: red, green, blue, white,
warm-white, yellow, orange, gold, pink, purple, cyan, magenta, teal, ice,
crimson, black.
Speed (--speed): 10 to 1000 percent of normal; 100 is normal.
Durations (--for): 90, 90s, 15m or 2h (1 s to 24 h); without --for the
animation plays until something else is asked for.
Fades (--fade): 500ms, 1.5s, 5s or 1m (0 to 60 s): how long the crossfade
into the animation takes; without --fade, ledd's own 400 ms.";

/// ledctl: control ledd, the LED daemon, over its Unix socket.
#[derive(Debug, Parser)]
#[command(name = "ledctl", version, after_help = AFTER_HELP)]
struct Cli {
    /// ledd's socket. The default is ledd's: /run/tinsel/ledd.sock for root,
    /// $XDG_RUNTIME_DIR/tinsel/ledd.sock (or /tmp/tinsel-UID/ledd.sock) for
    /// other users.
    #[arg(long, env = "LEDD_SOCKET", default_value_os_t = ledd::config::default_socket(), value_name = "PATH")]
    socket: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// What plays, brightness, frame timing and power.
    Status {
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The animations ledd offers.
    List,
    /// Play an animation (crossfading from what plays now).
    #[command(after_help = PLAY_HELP)]
    Play {
        /// The animation's name (see `ledctl list`).
        #[arg(value_parser = parse_animation)]
        name: Animation,
        /// The main colour, instead of the animation's own palette.
        #[arg(long, value_parser = parse_color)]
        color: Option<Rgb>,
        /// Speed in percent of normal, 10 to 1000.
        #[arg(long, value_parser = parse_speed, default_value = "100")]
        speed: Speed,
        /// Play this long, then return to what played before.
        #[arg(long = "for", value_parser = parse_duration, value_name = "DURATION")]
        duration: Option<PlaySeconds>,
        /// How long the crossfade into it takes (0 to 60 s).
        #[arg(long, value_parser = parse_fade, value_name = "TIME")]
        fade: Option<FadeMillis>,
    },
    /// Fade to dark.
    Off {
        /// How long the fade takes (0 to 60 s); ledd's own without it.
        #[arg(long, value_parser = parse_fade, value_name = "TIME")]
        fade: Option<FadeMillis>,
    },
    /// Set the global brightness, 0 to 100 percent (admin; a hooks peer
    /// up to ledd's [access] hooks_max_brightness).
    Brightness {
        /// Percent.
        #[arg(value_parser = parse_brightness)]
        percent: Brightness,
    },
    /// Print the current pixels after the output stage (admin).
    Frame {
        /// As a JSON array of [r, g, b].
        #[arg(long)]
        json: bool,
    },
    /// Check a new strip's wiring: each LED lights in turn, dimly, red along
    /// the whole strip, then green, then blue, then white; afterwards what
    /// played before comes back. A wrong colour means a wrong `order`; LEDs
    /// that never light, or a pause after the last one, a wrong `count`.
    Selftest {
        /// Passes over the strip (each is count × 4 × 40 ms).
        #[arg(long, default_value = "1", value_parser = clap::value_parser!(u32).range(1..=10))]
        passes: u32,
    },
    /// Draw the strip live in the terminal; plain text lines when stdout is
    /// not a terminal (admin).
    Watch {
        /// Frames per second wanted (ledd caps it at its own rate).
        #[arg(long, default_value = "30", value_parser = clap::value_parser!(u8).range(1..))]
        fps: u8,
        /// Stop after this many frames.
        #[arg(long)]
        frames: Option<u64>,
        /// How to draw the LEDs on a terminal: `tree` winds the strip up a
        /// cone from the bottom, like lights on a Christmas tree (when it
        /// fits the terminal); `strip` draws them in rows, LED 0 first.
        #[arg(long, value_enum, default_value = "tree")]
        layout: Layout,
    },
}

fn parse_animation(s: &str) -> Result<Animation, String> {
    s.parse()
        .map_err(|e: tinsel_proto::UnknownAnimation| e.to_string())
}

fn parse_color(s: &str) -> Result<Rgb, String> {
    s.parse().map_err(|e: tinsel_proto::BadColor| e.to_string())
}

fn parse_speed(s: &str) -> Result<Speed, String> {
    let n: u16 = s.parse().map_err(|_| format!("not a number: {s}"))?;
    Speed::new(n).map_err(|e| e.to_string())
}

fn parse_brightness(s: &str) -> Result<Brightness, String> {
    let n: u8 = s
        .parse()
        .map_err(|_| format!("not a percentage (0 to 100): {s}"))?;
    Brightness::new(n).map_err(|e| e.to_string())
}

/// `90`, `90s`, `15m`, `2h`.
fn parse_duration(s: &str) -> Result<PlaySeconds, String> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u32 = digits
        .parse()
        .map_err(|_| format!("not a duration: {s:?} (use 90, 90s, 15m or 2h)"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("unknown unit {unit:?}: use s, m or h")),
    };
    PlaySeconds::new(n.saturating_mul(mult)).map_err(|e| e.to_string())
}

/// `500ms`, `1.5s`, `5s`, `5`, `1m`: 0 to 60 s, to the millisecond.
fn parse_fade(s: &str) -> Result<FadeMillis, String> {
    let s = s.trim();
    let bad = || format!("not a fade time: {s:?} (use 500ms, 1.5s, 5s or 1m)");
    let (number, unit_ms) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (s, 1000.0)
    };
    if number.is_empty() || !number.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return Err(bad());
    }
    let n: f64 = number.parse().map_err(|_| bad())?;
    let ms = (n * unit_ms).round();
    if ms > f64::from(FadeMillis::MAX) {
        return Err(format!(
            "fade {s} is out of range: use 0 to 60000 ms (60 s)"
        ));
    }
    FadeMillis::new(ms as u16).map_err(|e| e.to_string())
}

/// How ledctl ends.
#[derive(Debug, Clone, Copy)]
enum Exit {
    Ok = 0,
    Refused = 1,
    Usage = 64,
    Unavailable = 69,
    Protocol = 76,
    NotAllowed = 77,
}

/// ledctl, as its errors name it: run by whoever calls it, on `--socket`.
const PEER: Peer = Peer {
    program: "ledctl",
    package_user: None,
    socket_setting: "--socket (or LEDD_SOCKET)",
};

fn exit_for(e: &LeddError) -> Exit {
    let refused = |r: &tinsel_proto::ErrorReply| match r.code {
        ErrorCode::NotAllowed | ErrorCode::Forbidden => Exit::NotAllowed,
        ErrorCode::VersionMismatch | ErrorCode::HelloExpected | ErrorCode::BadRequest => {
            Exit::Protocol
        }
        _ => Exit::Refused,
    };
    match e {
        LeddError::Unreachable(Cause::PermissionDenied | Cause::NoRole(_)) => Exit::NotAllowed,
        LeddError::Unreachable(Cause::Refused(r)) | LeddError::Refused(r) => refused(r),
        LeddError::Unreachable(Cause::Version { .. } | Cause::Protocol(_))
        | LeddError::Protocol(_) => Exit::Protocol,
        LeddError::Unreachable(Cause::NoSocket | Cause::NotListening | Cause::Timeout(_))
        | LeddError::Unreachable(Cause::Os(_))
        | LeddError::Unavailable { .. }
        | LeddError::Timeout
        | LeddError::Busy
        | LeddError::Lost(_) => Exit::Unavailable,
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Exit::Ok
                }
                _ => Exit::Usage,
            };
            return ExitCode::from(code as u8);
        }
    };
    // The per-user default socket is refused when its directory is not
    // the user's own: another user could have put a socket there.
    if let Err(e) = ledd::config::check_user_socket(&cli.socket) {
        eprintln!("ledctl: {}: {e}", cli.socket.display());
        return ExitCode::from(Exit::NotAllowed as u8);
    }
    let code = match run(&cli) {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("ledctl: {}", e.explain(&cli.socket, PEER));
            exit_for(&e)
        }
    };
    ExitCode::from(code as u8)
}

const TIMEOUT: Duration = Duration::from_secs(5);

fn run(cli: &Cli) -> Result<(), LeddError> {
    let mut c = Client::connect(&cli.socket, TIMEOUT)?;
    match &cli.cmd {
        Cmd::Status { json } => {
            let status = status(&mut c)?;
            if *json {
                println!("{}", status_json(&status));
            } else {
                print!("{}", status_text(&status));
            }
        }
        Cmd::List => {
            for a in c.welcome.animations.iter() {
                println!("{a}");
            }
        }
        Cmd::Play {
            name,
            color,
            speed,
            duration,
            fade,
        } => {
            let params = PlayParams {
                color: *color,
                speed: *speed,
                duration: *duration,
                fade: *fade,
            };
            expect_ok(c.request(&Request::Play {
                animation: *name,
                params,
            })?)?;
        }
        Cmd::Off { fade: None } => expect_ok(c.request(&Request::Off)?)?,
        Cmd::Off { fade: Some(fade) } => expect_ok(c.request(&Request::FadeOff(*fade))?)?,
        Cmd::Selftest { passes } => {
            let leds = usize::from(c.welcome.led_count);
            let ms = ledd::animation::self_test_ms(leds) * u64::from(*passes);
            let secs = u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX);
            // Clamped into range, so `new` cannot refuse it.
            let duration = PlaySeconds::new(secs.clamp(PlaySeconds::MIN, PlaySeconds::MAX))
                .unwrap_or(PlaySeconds::DEFAULT);
            expect_ok(c.request(&Request::Play {
                animation: Animation::SelfTest,
                params: PlayParams {
                    color: None,
                    speed: Speed::DEFAULT,
                    duration: Some(duration),
                    fade: None,
                },
            })?)?;
            println!(
                "selftest: {leds} LEDs light one at a time from the data input, red, then green, then blue, then white ({secs} s).\n\
                 - a wrong colour (green when red is due): set [strip] order (e.g. \"rgb\" instead of \"grb\")\n\
                 - LEDs at the far end that never light: [strip] count is too low\n\
                 - a pause after the last LED before the next colour: count is too high\n\
                 - flicker or random colours: check the level shifter, the common ground and the data resistor"
            );
        }
        Cmd::Brightness { percent } => expect_ok(c.request(&Request::SetBrightness(*percent))?)?,
        Cmd::Frame { json } => {
            c.send(&Request::Snapshot)?;
            let (_, pixels) = read_frame(&mut c)?;
            if *json {
                let v: Vec<[u8; 3]> = pixels.iter().map(|p| [p.r, p.g, p.b]).collect();
                println!("{}", json!(v));
            } else {
                let line: Vec<String> = pixels.iter().map(Rgb::to_string).collect();
                println!("{}", line.join(" "));
            }
        }
        Cmd::Watch {
            fps,
            frames,
            layout,
        } => watch(c, &cli.socket, *fps, *frames, *layout)?,
    }
    Ok(())
}

fn expect_ok(r: Response) -> Result<(), LeddError> {
    match r {
        Response::Ok => Ok(()),
        other => Err(LeddError::unexpected(&other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90").unwrap().get(), 90);
        assert_eq!(parse_duration("90s").unwrap().get(), 90);
        assert_eq!(parse_duration("15m").unwrap().get(), 900);
        assert_eq!(parse_duration("2h").unwrap().get(), 7200);
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("25h").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn fades_parse_to_the_millisecond_and_name_their_bound() {
        let ms = |s| parse_fade(s).map(FadeMillis::get);
        assert_eq!(ms("500ms"), Ok(500));
        assert_eq!(ms("1.5s"), Ok(1500));
        assert_eq!(ms("5"), Ok(5000));
        assert_eq!(ms("0"), Ok(0));
        assert_eq!(ms("1m"), Ok(60_000));
        let err = parse_fade("61s").unwrap_err();
        assert!(err.contains("use 0 to 60000"), "{err}");
        assert!(parse_fade("2m").unwrap_err().contains("60000"));
        for bad in ["", "s", "-1s", "1.5.2s", "5h", "fast"] {
            assert!(parse_fade(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cli_parses_the_documented_examples() {
        let c = Cli::try_parse_from([
            "ledctl", "play", "comet", "--color", "ice", "--speed", "150", "--for", "10m",
        ])
        .unwrap();
        let Cmd::Play {
            name,
            color,
            speed,
            duration,
            fade,
        } = c.cmd
        else {
            panic!("not play");
        };
        assert_eq!(name, Animation::Comet);
        assert_eq!(color, Some(Rgb::new(120, 200, 255)));
        assert_eq!(speed.get(), 150);
        assert_eq!(duration.unwrap().get(), 600);
        assert_eq!(fade, None);
        let c = Cli::try_parse_from(["ledctl", "play", "rainbow", "--fade", "5s"]).unwrap();
        assert!(matches!(c.cmd, Cmd::Play { fade: Some(f), .. } if f.get() == 5000));
        let c = Cli::try_parse_from(["ledctl", "off", "--fade", "1m"]).unwrap();
        assert!(matches!(c.cmd, Cmd::Off { fade: Some(f) } if f.get() == 60_000));
        assert!(Cli::try_parse_from(["ledctl", "brightness", "101"]).is_err());
        assert!(Cli::try_parse_from(["ledctl", "play", "disco"]).is_err());
    }
}
