//! A [`Link`] in a task of its own, for a daemon whose many tasks share
//! one connection to ledd (webd: one per HTTP connection). Requests queue
//! in a bounded channel and are served one at a time, in order.
//!
//! The task connects at once and keeps trying in the background, keeps
//! the idle link alive and notices a hang-up, so the daemon recovers by
//! itself; while ledd is away a request fails at once with
//! [`LeddError::Unavailable`] and a retry time (webd's 503 and
//! `Retry-After`).

use tinsel_proto::{Request, Response};
use tokio::sync::{mpsc, oneshot};

use crate::{LeddError, Link};

/// Requests waiting for the link; more wait for room, each bounded by the
/// caller's own deadline.
const QUEUE: usize = 32;

struct Job {
    request: Request,
    reply: oneshot::Sender<Result<Response, LeddError>>,
}

/// A handle on the task that owns the link. Cheap to clone; the task ends
/// when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Handle {
    jobs: mpsc::Sender<Job>,
}

impl Handle {
    /// Moves `link` into a task on the current tokio runtime.
    pub fn spawn(link: Link) -> Handle {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(serve(link, rx));
        Handle { jobs }
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

async fn serve(mut link: Link, mut jobs: mpsc::Receiver<Job>) {
    loop {
        tokio::select! {
            job = jobs.recv() => {
                let Some(job) = job else { return };
                // A caller that gave up is not served.
                if !job.reply.is_closed() {
                    let result = link.request(&job.request).await;
                    let _ = job.reply.send(result);
                }
            }
            due = link.due() => {
                link.run(due).await;
            }
        }
    }
}
