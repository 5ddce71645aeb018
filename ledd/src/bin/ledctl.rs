//! `ledctl`: the local command line for ledd. Plays animations, switches
//! off, sets brightness, prints status and frames, and draws the strip live
//! in the terminal.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use ledd::client::{Client, ClientError};
use serde_json::json;
use tinsel_proto::{
    Animation, Brightness, ErrorCode, FrameChunk, PlayParams, PlaySeconds, Request, Response, Rgb,
    Speed, Status,
};

const AFTER_HELP: &str = "\
Examples:
  ledctl play fire                        flickering embers until told otherwise
  ledctl play comet --color ice --speed 150
  ledctl play candy-cane --for 10m        then back to what played before
  ledctl brightness 30
  ledctl off
  ledctl status --json | jq .stats.late_frames
  ledctl frame --json                     pixels after gamma/brightness/limit
  ledctl watch                            live preview in this terminal

Colours: #rrggbb, rrggbb or a name (red, green, blue, white, warm-white, yellow,
orange, gold, pink, purple, cyan, magenta, teal, ice, crimson, black).
Durations: 90, 90s, 15m, 2h (1 s to 24 h). Speed: 10 to 1000 percent.

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
animation plays until something else is asked for.";

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
    },
    /// Fade to dark.
    Off,
    /// Set the global brightness, 0 to 100 percent (admin).
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

/// How `watch` draws the LEDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Layout {
    /// A cone, LED 0 at the bottom left, winding up row by row.
    Tree,
    /// Rows of the terminal's width.
    Strip,
}

/// The rows of a tree of `n` LEDs, top row first, each a list of LED
/// indices in drawing order (left to right). With `k = ⌊√n⌋` rows the cone
/// is 1, 3, 5, ... LEDs wide, and the `n - k²` left over widen the rows
/// evenly, the bottom ones first. The strip starts at the bottom left and
/// snakes upwards, as it would wound round a tree.
fn tree_rows(n: usize) -> Vec<Vec<usize>> {
    let mut k = 1;
    while (k + 1) * (k + 1) <= n {
        k += 1;
    }
    let extra = n.saturating_sub(k * k);
    let (each, rest) = (extra / k, extra % k);
    let mut rows = Vec::with_capacity(k);
    let mut next = 0;
    // Bottom row first: widest.
    for (from_bottom, r) in (0..k).rev().enumerate() {
        let width = 2 * r + 1 + each + usize::from(from_bottom < rest);
        let take = width.min(n - next);
        let mut row: Vec<usize> = (next..next + take).collect();
        if from_bottom % 2 == 1 {
            row.reverse();
        }
        next += take;
        rows.push(row);
    }
    rows.reverse();
    rows
}

/// Draws the tree: a star, the rows centred (dark LEDs as dim dots so the
/// shape stays visible), a trunk. Returns the number of lines written.
fn draw_tree(out: &mut String, pixels: &[Rgb], rows: &[Vec<usize>]) -> usize {
    let widest = rows.last().map_or(1, |r| 2 * r.len().max(1) - 1);
    let pad = |out: &mut String, chars: usize| {
        out.extend(std::iter::repeat_n(
            ' ',
            (widest.saturating_sub(chars)) / 2 + 2,
        ));
    };
    pad(out, 1);
    out.push_str("\x1b[38;2;255;210;0m★\x1b[0m\x1b[K\n");
    for row in rows {
        // Rows left short (the top of a non-square strip) still centre on
        // the full width of their place in the cone.
        pad(out, 2 * row.len().max(1) - 1);
        for (i, &led) in row.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let p = pixels.get(led).copied().unwrap_or(Rgb::BLACK);
            if u16::from(p.r) + u16::from(p.g) + u16::from(p.b) < 24 {
                out.push_str("\x1b[38;2;40;60;40m·");
            } else {
                let _ = write!(out, "\x1b[38;2;{};{};{}m●", p.r, p.g, p.b);
            }
        }
        out.push_str("\x1b[0m\x1b[K\n");
    }
    pad(out, 3);
    out.push_str("\x1b[38;2;110;70;30m███\x1b[0m\x1b[K\n");
    rows.len() + 2
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

fn exit_for(e: &ClientError) -> Exit {
    match e {
        ClientError::Connect { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            Exit::NotAllowed
        }
        ClientError::Connect { .. } | ClientError::Closed | ClientError::Io(_) => Exit::Unavailable,
        ClientError::Refused(r) => match r.code {
            ErrorCode::NotAllowed | ErrorCode::Forbidden => Exit::NotAllowed,
            ErrorCode::VersionMismatch | ErrorCode::HelloExpected | ErrorCode::BadRequest => {
                Exit::Protocol
            }
            _ => Exit::Refused,
        },
        ClientError::Frame(_) | ClientError::Unexpected(_) | ClientError::Version(_) => {
            Exit::Protocol
        }
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
    let code = match run(&cli) {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("ledctl: {e}");
            exit_for(&e)
        }
    };
    ExitCode::from(code as u8)
}

const TIMEOUT: Duration = Duration::from_secs(5);

fn run(cli: &Cli) -> Result<(), ClientError> {
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
        } => {
            let params = PlayParams {
                color: *color,
                speed: *speed,
                duration: *duration,
            };
            expect_ok(c.request(&Request::Play {
                animation: *name,
                params,
            })?)?;
        }
        Cmd::Off => expect_ok(c.request(&Request::Off)?)?,
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

fn expect_ok(r: Response) -> Result<(), ClientError> {
    match r {
        Response::Ok => Ok(()),
        other => Err(ClientError::Unexpected(format!("{other:?}"))),
    }
}

fn status(c: &mut Client) -> Result<Status, ClientError> {
    match c.request(&Request::Status)? {
        Response::Status(s) => Ok(s),
        other => Err(ClientError::Unexpected(format!("{other:?}"))),
    }
}

fn status_json(s: &Status) -> serde_json::Value {
    let playing = s.playing.map(|p| {
        json!({
            "animation": p.animation.name(),
            "color": p.params.color.map(|c| c.to_string()),
            "speed": p.params.speed.get(),
            "duration_secs": p.params.duration.map(PlaySeconds::get),
            "remaining_secs": p.remaining_secs,
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

fn status_text(s: &Status) -> String {
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

/// Reads chunks until one whole frame is in.
fn read_frame(c: &mut Client) -> Result<(u64, Vec<Rgb>), ClientError> {
    let mut pixels: Vec<Rgb> = Vec::new();
    let mut frame = None;
    loop {
        let FrameChunk {
            frame: n,
            offset,
            total,
            pixels: px,
        } = match c.recv()? {
            Response::Frame(f) => f,
            other => return Err(ClientError::Unexpected(format!("{other:?}"))),
        };
        if frame != Some(n) || usize::from(offset) != pixels.len() {
            // A new frame (or a chunk we missed the start of): start over.
            pixels.clear();
            frame = Some(n);
            if offset != 0 {
                continue;
            }
        }
        pixels.extend(px.iter());
        if pixels.len() >= usize::from(total) {
            pixels.truncate(usize::from(total));
            return Ok((n, pixels));
        }
    }
}

fn watch(
    mut c: Client,
    socket: &Path,
    fps: u8,
    frames: Option<u64>,
    layout: Layout,
) -> Result<(), ClientError> {
    let tty = std::io::stdout().is_terminal();
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|w| w.parse::<usize>().ok())
        .filter(|&w| w >= 10)
        .unwrap_or(80);
    let leds = usize::from(c.welcome.led_count);
    // The tree when it fits: rows of up to 2k-1 LEDs drawn two columns each.
    let tree = (layout == Layout::Tree)
        .then(|| tree_rows(leds))
        .filter(|rows| rows.last().is_some_and(|r| 2 * r.len() + 4 <= width) && rows.len() <= 40);
    // Status comes over a second connection, once a second.
    let mut status_conn = Client::connect(socket, TIMEOUT)?;
    let mut stats = status(&mut status_conn)?;
    let mut last_status = Instant::now();
    c.send(&Request::Watch { fps })?;
    let mut shown = 0u64;
    let mut drawn_rows = 0usize;
    // Frames received per second, over the last whole second.
    let (mut window, mut window_frames, mut view_fps) = (Instant::now(), 0u32, 0.0f64);
    let mut out = String::new();
    let stdout = std::io::stdout();
    loop {
        let (n, pixels) = read_frame(&mut c)?;
        shown += 1;
        window_frames += 1;
        if window.elapsed() >= Duration::from_secs(1) {
            view_fps = f64::from(window_frames) / window.elapsed().as_secs_f64();
            (window, window_frames) = (Instant::now(), 0);
        }
        if last_status.elapsed() >= Duration::from_secs(1) {
            stats = status(&mut status_conn)?;
            last_status = Instant::now();
        }
        out.clear();
        if tty {
            if drawn_rows > 0 {
                // Back to the top of the previous drawing.
                let _ = write!(out, "\x1b[{drawn_rows}F");
            }
            drawn_rows = 0;
            if let Some(rows) = &tree {
                drawn_rows += draw_tree(&mut out, &pixels, rows);
            } else {
                for row in pixels.chunks(width) {
                    for p in row {
                        let _ = write!(out, "\x1b[38;2;{};{};{}m█", p.r, p.g, p.b);
                    }
                    out.push_str("\x1b[0m\x1b[K\n");
                    drawn_rows += 1;
                }
            }
            let playing = stats
                .playing
                .map_or("off".to_string(), |p| p.animation.name().to_string());
            let _ = writeln!(
                out,
                "frame {n}  {playing}  view {:.1} fps  ledd {:.1} fps  late {}  {} mA{}  (Ctrl-C to quit)\x1b[K",
                view_fps,
                f64::from(stats.stats.fps_milli) / 1000.0,
                stats.stats.late_frames,
                stats.power.milliamps,
                if stats.power.limited { " limited" } else { "" },
            );
            drawn_rows += 1;
        } else {
            let _ = write!(out, "frame {n}:");
            for p in &pixels {
                let _ = write!(out, " {p}");
            }
            out.push('\n');
        }
        let mut lock = stdout.lock();
        if lock
            .write_all(out.as_bytes())
            .and_then(|()| lock.flush())
            .is_err()
        {
            // stdout closed (e.g. `| head`): a normal way to stop.
            return Ok(());
        }
        if frames.is_some_and(|f| shown >= f) {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_tree_winds_up_from_the_bottom_and_holds_every_led() {
        use super::tree_rows;
        assert_eq!(tree_rows(1), vec![vec![0]]);
        // 4 LEDs: a row of 3 at the bottom, one at the top.
        assert_eq!(tree_rows(4), vec![vec![3], vec![0, 1, 2]]);
        // 12 LEDs: the second row runs right to left, like a strip wound on.
        assert_eq!(
            tree_rows(12),
            vec![vec![10, 11], vec![9, 8, 7, 6], vec![0, 1, 2, 3, 4, 5]]
        );
        assert_eq!(tree_rows(6), vec![vec![5, 4], vec![0, 1, 2, 3]]);
        for n in [1, 2, 6, 49, 50, 150, 300, 1000] {
            let rows = tree_rows(n);
            let mut all: Vec<usize> = rows.concat();
            all.sort_unstable();
            assert_eq!(all, (0..n).collect::<Vec<_>>(), "n = {n}");
            for pair in rows.windows(2) {
                assert!(pair[0].len() < pair[1].len(), "{n}: rows widen downwards");
            }
        }
        assert_eq!(tree_rows(150).len(), 12);
        assert_eq!(tree_rows(150).last().map(Vec::len), Some(24));
        assert!(tree_rows(1000)[0].len() <= 3, "a tree has a tip");
    }

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
        } = c.cmd
        else {
            panic!("not play");
        };
        assert_eq!(name, Animation::Comet);
        assert_eq!(color, Some(Rgb::new(120, 200, 255)));
        assert_eq!(speed.get(), 150);
        assert_eq!(duration.unwrap().get(), 600);
        assert!(Cli::try_parse_from(["ledctl", "brightness", "101"]).is_err());
        assert!(Cli::try_parse_from(["ledctl", "play", "disco"]).is_err());
    }
}
