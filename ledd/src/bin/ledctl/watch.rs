//! `ledctl watch` and `ledctl frame`: reading whole frames from the
//! stream, and drawing them live in the terminal, as a tree or as rows.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use tinsel_client::LeddError;
use tinsel_client::blocking::Client;
use tinsel_proto::{FrameChunk, Request, Response, Rgb};

use crate::TIMEOUT;
use crate::status::status;

/// How `watch` draws the LEDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Layout {
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

/// Reads chunks until one whole frame is in.
pub(crate) fn read_frame(c: &mut Client) -> Result<(u64, Vec<Rgb>), LeddError> {
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
            other => return Err(LeddError::unexpected(&other)),
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

/// Draws the stream of frames until `frames` are shown or stdout closes,
/// with ledd's status (over a second connection) under the drawing.
pub(crate) fn watch(
    mut c: Client,
    socket: &Path,
    fps: u8,
    frames: Option<u64>,
    layout: Layout,
) -> Result<(), LeddError> {
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
    use super::*;

    #[test]
    fn the_tree_winds_up_from_the_bottom_and_holds_every_led() {
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
}
