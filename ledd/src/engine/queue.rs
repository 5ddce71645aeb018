//! The way in to the frame loop: the commands, the bounded queue and the
//! latest-wins slot, with [`Sender::send`] as the one way to send.
//!
//! Play and Off never enter the queue: they go into a latest-wins slot that
//! holds the newest untimed Play or Off plus a timed Play sent after it, so a
//! timed play still returns to what came before it. A flood of webhooks then
//! never fills the queue (only the newest animation can be shown in the next
//! frame anyway), and the loop's work per frame does not grow with it.
//! Everything else goes through a bounded channel of [`QUEUE_DEPTH`]; when it
//! is full the sender gets [`Busy`] at once. The loop takes the slot with
//! `try_lock` and drains the channel with `try_recv` (see `frame_loop.rs`):
//! it never waits for a client.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tinsel_proto::{Animation, Brightness, FadeMillis, PlayParams, Status};
use tokio::sync::oneshot;

use super::LiveSettings;

/// Commands that may wait for the loop; more are refused as busy.
pub const QUEUE_DEPTH: usize = 32;

/// A command for the frame loop.
#[derive(Debug)]
pub enum Command {
    /// Crossfade to an animation.
    Play {
        /// Which animation.
        animation: Animation,
        /// Its parameters.
        params: PlayParams,
        /// When the server received the request ([`super::now_ns`]).
        received_ns: u64,
    },
    /// Fade to dark.
    Off {
        /// How long the fade takes; `None` is ledd's own.
        fade: Option<FadeMillis>,
        /// When the server received the request.
        received_ns: u64,
    },
    /// Set the global brightness.
    SetBrightness(Brightness),
    /// Answer with the status.
    Status(oneshot::Sender<Status>),
    /// Apply new output settings (SIGHUP).
    Reconfigure(Box<LiveSettings>),
    /// Blank the strip and end the loop.
    Stop,
}

/// The command queue is full: the loop is behind or stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the frame loop is busy: try again")]
pub struct Busy;

/// The server's side of the frame loop: the bounded queue for everything but
/// Play and Off, and the latest-wins slot for those two.
#[derive(Debug, Clone)]
pub struct Sender {
    tx: SyncSender<Command>,
    latest: Arc<Mutex<Latest>>,
}

impl Sender {
    /// Queues `cmd` without waiting; Play and Off replace those not yet
    /// applied.
    pub fn send(&self, cmd: Command) -> Result<(), Busy> {
        match cmd {
            Command::Play { .. } | Command::Off { .. } => match self.latest.lock() {
                Ok(mut slot) => {
                    slot.put(cmd);
                    Ok(())
                }
                Err(_) => Err(Busy),
            },
            cmd => self.tx.try_send(cmd).map_err(|e| match e {
                TrySendError::Full(_) | TrySendError::Disconnected(_) => Busy,
            }),
        }
    }
}

/// The Play/Off commands not yet applied, coalesced without losing meaning:
/// the newest untimed Play or Off (`base`), and a timed Play sent after it
/// (`timed`), which must know what plays before it to return there. The loop
/// applies `base`, then `timed`.
#[derive(Debug, Default)]
pub struct Latest {
    base: Option<Command>,
    timed: Option<Command>,
}

impl Latest {
    fn put(&mut self, cmd: Command) {
        match cmd {
            Command::Play { params, .. } if params.duration.is_some() => self.timed = Some(cmd),
            cmd => {
                // An untimed Play or Off replaces a timed one too.
                self.base = Some(cmd);
                self.timed = None;
            }
        }
    }

    /// The commands to apply, `base` first; the slot is empty after.
    pub(super) fn take(&mut self) -> [Option<Command>; 2] {
        [self.base.take(), self.timed.take()]
    }
}

/// The loop's side: the receiving end of the queue and the same slot the
/// [`Sender`]s fill.
#[derive(Debug)]
pub(super) struct Inbox {
    /// Everything but Play and Off, in order.
    pub(super) rx: Receiver<Command>,
    /// The newest Play/Off, taken once per frame (`try_lock`: never waits).
    pub(super) latest: Arc<Mutex<Latest>>,
}

/// A queue of `depth` commands and an empty slot: the server's end and the
/// loop's end.
pub(super) fn channel(depth: usize) -> (Sender, Inbox) {
    let (tx, rx) = mpsc::sync_channel(depth);
    let latest = Arc::new(Mutex::new(Latest::default()));
    let sender = Sender {
        tx,
        latest: Arc::clone(&latest),
    };
    (sender, Inbox { rx, latest })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play(a: Animation, secs: Option<u32>) -> Command {
        Command::Play {
            animation: a,
            params: PlayParams {
                duration: secs.map(|s| tinsel_proto::PlaySeconds::new(s).unwrap()),
                ..PlayParams::default()
            },
            received_ns: 0,
        }
    }

    #[test]
    fn coalesced_plays_keep_what_a_timed_play_returns_to() {
        let name = |c: &Option<Command>| match c {
            Some(Command::Play { animation, .. }) => Some(*animation),
            _ => None,
        };
        let mut l = Latest::default();
        l.put(play(Animation::Fire, None));
        l.put(play(Animation::Solid, None));
        l.put(play(Animation::SelfTest, Some(5)));
        let [base, timed] = l.take();
        assert_eq!(
            name(&base),
            Some(Animation::Solid),
            "the newest untimed play"
        );
        assert_eq!(
            name(&timed),
            Some(Animation::SelfTest),
            "then the timed one"
        );
        // An untimed play after a timed one replaces both.
        l.put(play(Animation::SelfTest, Some(5)));
        l.put(play(Animation::Comet, None));
        let [base, timed] = l.take();
        assert_eq!(name(&base), Some(Animation::Comet));
        assert!(timed.is_none());
        assert!(l.take().iter().all(Option::is_none), "taken once");
    }

    #[test]
    fn send_fills_the_slot_the_loop_reads_and_the_queue() {
        let (tx, inbox) = channel(1);
        tx.send(play(Animation::Fire, None)).unwrap();
        tx.send(Command::Off {
            fade: None,
            received_ns: 0,
        })
        .unwrap();
        tx.send(Command::Stop).unwrap();
        assert_eq!(tx.send(Command::Stop), Err(Busy), "the queue holds one");
        assert!(
            tx.send(play(Animation::Comet, None)).is_ok(),
            "Play never waits for the queue"
        );
        let [base, timed] = inbox.latest.lock().unwrap().take();
        assert!(
            matches!(
                base,
                Some(Command::Play {
                    animation: Animation::Comet,
                    ..
                })
            ),
            "{base:?}"
        );
        assert!(timed.is_none());
        assert!(matches!(inbox.rx.try_recv(), Ok(Command::Stop)));
        assert!(
            inbox.rx.try_recv().is_err(),
            "Play and Off stay out of the queue"
        );
    }
}
