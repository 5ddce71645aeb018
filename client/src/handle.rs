//! A [`Link`] in a task of its own, for a daemon whose many tasks share
//! one connection to ledd (webd: one per HTTP connection). Requests queue
//! in a bounded channel and are served one at a time, in order.
//!
//! The task connects at once and keeps trying in the background, keeps
//! the idle link alive and notices a hang-up, so the daemon recovers by
//! itself; while ledd is away a request fails at once with
//! [`LeddError::Unavailable`] and a retry time (webd's 503 and
//! `Retry-After`).
//!
//! A handle made with [`Handle::spawn_subscribing`] also keeps the newest
//! state ledd pushed, so a reader ([`Handle::state`]) costs no round trip
//! to ledd. The task clears it whenever the link is not connected (before
//! the first state, after a hang-up): a state nobody keeps current is not
//! shown as ledd's, and the reader asks ledd instead, which fails the way
//! a request fails while ledd is away. After a change the handle made
//! (a play, off, a brightness) it reads ledd's state once before a reader
//! sees the kept state again: ledd pushes the change a frame after its
//! answer, and a reader that asks right after the answer (Home
//! Assistant's REST light does) must see it.

use tinsel_proto::{Request, Response, Status};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::{LeddError, Link};

/// Requests waiting for the link; more wait for room, each bounded by the
/// caller's own deadline.
const QUEUE: usize = 32;

struct Job {
    request: Request,
    reply: oneshot::Sender<Result<Response, LeddError>>,
}

/// A state ledd pushed, and when it arrived: ledd's `remaining_secs` is as
/// of the change that pushed it.
#[derive(Debug, Clone, Copy)]
struct Pushed {
    status: Status,
    received: Instant,
}

impl Pushed {
    /// The state as of `now`: a timed play's seconds left counted down
    /// since it arrived. ledd rounds them up (`remaining_secs` is the
    /// ceiling of what is left), so whole seconds elapsed are subtracted
    /// and the result is still a ceiling. Everything else in a state
    /// changes only with a push.
    fn at(&self, now: Instant) -> Status {
        let mut status = self.status;
        if let Some(playing) = status.playing.as_mut()
            && let Some(left) = playing.remaining_secs.as_mut()
        {
            let elapsed = now.saturating_duration_since(self.received).as_secs();
            *left = left.saturating_sub(u32::try_from(elapsed).unwrap_or(u32::MAX));
        }
        status
    }
}

/// A handle on the task that owns the link. Cheap to clone; the task ends
/// when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Handle {
    jobs: mpsc::Sender<Job>,
    /// The newest pushed state while the link is connected; `None` for a
    /// handle that does not subscribe.
    state: Option<watch::Receiver<Option<Pushed>>>,
}

impl Handle {
    /// Moves `link` into a task on the current tokio runtime.
    pub fn spawn(link: Link) -> Handle {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(serve(link, rx, None));
        Handle { jobs, state: None }
    }

    /// [`Handle::spawn`] with `link` made [subscribing](Link::subscribing):
    /// the task keeps the newest state ledd pushes for [`Handle::state`].
    pub fn spawn_subscribing(link: Link) -> Handle {
        let (jobs, rx) = mpsc::channel(QUEUE);
        let (tx, state) = watch::channel(None);
        tokio::spawn(serve(link.subscribing(), rx, Some(tx)));
        Handle {
            jobs,
            state: Some(state),
        }
    }

    /// ledd's state now, from what it pushed, without asking it: `None`
    /// while the link is not connected or no state has come yet, and
    /// always for a handle that does not subscribe. Then ask with
    /// [`Handle::request`].
    pub fn state(&self) -> Option<Status> {
        let pushed = *self.state.as_ref()?.borrow();
        pushed.map(|p| p.at(Instant::now()))
    }

    /// Sends `request` and waits for ledd's answer.
    pub async fn request(&self, request: Request) -> Result<Response, LeddError> {
        let (reply, rx) = oneshot::channel();
        // Wait for room rather than fail: each waiting request is bounded
        // by its caller, so a burst queues here instead of failing.
        self.jobs
            .send(Job { request, reply })
            .await
            .map_err(|_| LeddError::Busy)?;
        rx.await
            .unwrap_or_else(|_| Err(LeddError::Protocol("the ledd link stopped".into())))
    }
}

async fn serve(
    mut link: Link,
    mut jobs: mpsc::Receiver<Job>,
    state: Option<watch::Sender<Option<Pushed>>>,
) {
    loop {
        tokio::select! {
            job = jobs.recv() => {
                let Some(job) = job else { return };
                // A caller that gave up is not served.
                if !job.reply.is_closed() {
                    let result = link.request(&job.request).await;
                    let changed = matches!(result, Ok(Response::Ok)) && changes_state(&job.request);
                    match &state {
                        Some(tx) if changed => {
                            // ledd pushes this change a frame after its
                            // answer: until the state is read again, the
                            // one kept is from before it, and a reader asks
                            // ledd (queued behind the read below).
                            tx.send_replace(None);
                            let _ = job.reply.send(result);
                            read_state(&mut link, tx).await;
                        }
                        _ => {
                            let _ = job.reply.send(result);
                        }
                    }
                }
            }
            due = link.due() => {
                link.run(due).await;
            }
        }
        if let Some(tx) = &state {
            keep_newest(&mut link, tx);
        }
    }
}

/// Moves the states `link` holds into `tx`, the newest last, or clears
/// `tx` when the link is not connected.
fn keep_newest(link: &mut Link, tx: &watch::Sender<Option<Pushed>>) {
    let mut newest = None;
    while let Some(status) = link.take_pushed() {
        newest = Some(status);
    }
    if !link.is_connected() {
        tx.send_if_modified(|now| now.take().is_some());
    } else if let Some(status) = newest {
        keep(tx, status);
    }
}

/// Keeps `status` unless the state kept is newer. A read after a change
/// ([`read_state`]) can be newer than a push that arrives after it: ledd
/// counts frames in both, and a state is as of the frame it was taken in.
fn keep(tx: &watch::Sender<Option<Pushed>>, status: Status) {
    tx.send_if_modified(|now| {
        if now.is_some_and(|p| p.status.stats.frames > status.stats.frames) {
            return false;
        }
        *now = Some(Pushed {
            status,
            received: Instant::now(),
        });
        true
    });
}

/// Reads ledd's state after a change this link made: ledd's frame loop
/// answers `Status` after the change, so the answer shows it.
async fn read_state(link: &mut Link, tx: &watch::Sender<Option<Pushed>>) {
    // Pushed before the answer below, so older than it or the same.
    while link.take_pushed().is_some() {}
    if let Ok(Response::Status(status)) = link.request(&Request::Status).await {
        keep(tx, status);
    }
}

/// Whether ledd's state changes when it answers `request` with `Ok`.
fn changes_state(request: &Request) -> bool {
    matches!(
        request,
        Request::Play { .. } | Request::Off | Request::FadeOff(_) | Request::SetBrightness(_)
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tinsel_proto::{Animation, PlayParams, Playing};

    use super::*;
    use crate::fake::dark;

    fn timed(left: u32) -> Status {
        Status {
            playing: Some(Playing {
                animation: Animation::Fire,
                params: PlayParams::default(),
                remaining_secs: Some(left),
            }),
            ..dark()
        }
    }

    fn left(s: Status) -> Option<u32> {
        s.playing.and_then(|p| p.remaining_secs)
    }

    #[test]
    fn a_pushed_timed_play_counts_down_in_whole_seconds() {
        let received = Instant::now();
        let p = Pushed {
            status: timed(90),
            received,
        };
        let at = |ms| left(p.at(received + Duration::from_millis(ms)));
        // ledd's 90 is a ceiling: up to 90 s were left when it arrived.
        assert_eq!(at(0), Some(90));
        assert_eq!(at(999), Some(90));
        assert_eq!(at(1000), Some(89));
        assert_eq!(at(89_999), Some(1));
        // Past the end ledd pushes what comes next; until then, 0.
        assert_eq!(at(90_000), Some(0));
        assert_eq!(at(3_600_000), Some(0));
        // Untimed plays and a dark tree have nothing to count.
        let dark = Pushed {
            status: dark(),
            received,
        };
        assert_eq!(dark.at(received + Duration::from_secs(5)), dark.status);
    }

    #[test]
    fn a_state_from_an_earlier_frame_does_not_replace_a_newer_one() {
        let at_frame = |frames, left| {
            let mut s = timed(left);
            s.stats.frames = frames;
            s
        };
        let (tx, rx) = watch::channel(None);
        keep(&tx, at_frame(100, 30));
        // The push of the change a read after it already showed.
        keep(&tx, at_frame(99, 31));
        assert_eq!(rx.borrow().map(|p| p.status), Some(at_frame(100, 30)));
        // A later change, and a state of the same frame, are kept.
        keep(&tx, at_frame(101, 20));
        assert_eq!(rx.borrow().map(|p| p.status), Some(at_frame(101, 20)));
        keep(&tx, dark());
        assert_eq!(rx.borrow().map(|p| p.status.stats.frames), Some(101));
        tx.send_replace(None);
        // After a hang-up anything goes: a restarted ledd counts from 0.
        keep(&tx, dark());
        assert_eq!(rx.borrow().map(|p| p.status), Some(dark()));
    }
}
