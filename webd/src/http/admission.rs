//! Connection admission: which accepted TCP connections webd keeps, so that
//! no single client (one address, one IPv6 /64) can take the slots other
//! clients need.
//!
//! The connection loop accepts first and asks [`Admission::admit`] second.
//! A newcomer is refused (closed at once) only when its own client is over
//! its allowance: too many TLS handshakes in progress, or too many
//! connections none of which is a served, idle one it could replace (a
//! client at its allowance displaces its own longest-idle keep-alive
//! connection, as a phone back from sleep needs). When every slot is taken, the newcomer takes the slot of the
//! connection that has earned it least, in this order:
//!
//! 1. dead weight: not one byte received after [`SILENT_GRACE`] (a real
//!    client's TLS ClientHello follows the TCP handshake at once), or TLS up
//!    and no request begun after [`REQUEST_GRACE`] (a real client sends its
//!    request right behind its handshake), oldest first;
//! 2. silent past [`NEWCOMER_GRACE`]: had the time to say its ClientHello
//!    and has not, oldest first;
//! 3. talking but not yet served (handshaking, or TLS up within
//!    [`REQUEST_GRACE`]), and newcomers younger than [`NEWCOMER_GRACE`],
//!    oldest first, however far the handshake got;
//! 4. served and idle, longest idle first.
//!
//! A connection with a request in flight is never a victim. Progress is
//! counted in requests, never in bytes: a request head trickled in a byte
//! at a time keeps nothing alive. A client that talks is ranked above connections that
//! have had their chance to and have not, so a flood of connections that
//! never speak displaces only itself, unless it brings more than the slots
//! in one [`NEWCOMER_GRACE`] (64 slots / 20 ms: 3200 connections a second).
//! A newcomer is ranked by age with the talking ones while its first bytes
//! are on their way, so a table full of connections that talk does not
//! make it the first victim. Against clients that talk but never finish,
//! age alone decides: a newcomer keeps its slot until as many connections
//! as there are slots have arrived after it.

//! The table is plain data: time is a parameter, and each connection's
//! handle (the server stores the sender half of its eviction signal) is
//! handed back when it is evicted, so tests drive it with plain calls.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::ban::net_key;

/// How long a connection may stay silent before it counts as dead weight
/// for eviction. A client's first bytes follow the TCP handshake within a
/// round trip; past this, even a slow link or a busy webd has had time.
pub const SILENT_GRACE: Duration = Duration::from_millis(250);

/// How long a connection whose TLS handshake finished may go without
/// beginning a request before it counts as dead weight for eviction. A
/// client sends its first request right behind its handshake; a
/// connection that only trickles bytes of a head it never finishes has
/// begun none.
pub const REQUEST_GRACE: Duration = Duration::from_millis(500);

/// How long a newcomer counts as talking before its first byte is heard:
/// the client's ClientHello is on its way and the connection's task may
/// not have run yet.
pub const NEWCOMER_GRACE: Duration = Duration::from_millis(20);

/// How far a connection got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Accepted; not one byte received yet.
    Silent,
    /// Bytes arrived; the TLS handshake is not finished.
    Handshaking,
    /// TLS is up; no request completed yet.
    AwaitingRequest,
    /// At least one request was answered.
    Served,
}

/// A connection's number in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

/// How many connections and handshakes one client may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Connections at once.
    pub connections: usize,
    /// Connections not yet through their TLS handshake.
    pub handshakes: usize,
}

/// Why a newcomer was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its client already holds `limit` connections.
    Connections {
        /// The allowance.
        limit: usize,
    },
    /// Its client already has `limit` handshakes in progress.
    Handshakes {
        /// The allowance.
        limit: usize,
    },
    /// Every slot is busy with a request in flight, or too many evicted
    /// sockets are still being closed.
    Full,
}

/// A newcomer that got a slot.
#[derive(Debug)]
pub struct Admitted<H> {
    /// Its number, for the later calls.
    pub id: ConnId,
    /// The handle of the connection it displaced, to be told to close.
    pub evicted: Option<H>,
}

#[derive(Debug)]
struct Conn<H> {
    key: IpAddr,
    opened: Instant,
    phase: Phase,
    /// When the TLS handshake finished.
    ready: Option<Instant>,
    in_flight: u32,
    last_done: Option<Instant>,
    /// `None` once evicted: the socket is still open until its task ends.
    handle: Option<H>,
}

impl<H> Conn<H> {
    fn live(&self) -> bool {
        self.handle.is_some()
    }

    fn handshaking(&self) -> bool {
        self.phase < Phase::AwaitingRequest
    }

    /// The eviction order at `now`, lower first: dead weight, silent past
    /// the newcomer's grace, talking but unserved (and newcomers), served;
    /// within each, oldest (opened, or last answered) first.
    fn rank(&self, now: Instant) -> (u8, Instant) {
        let silent_for = now.saturating_duration_since(self.opened);
        let quiet_past_grace = self.ready.is_some_and(|r| r + REQUEST_GRACE <= now);
        let class = match self.phase {
            Phase::Silent if silent_for >= SILENT_GRACE => 0,
            Phase::AwaitingRequest if quiet_past_grace => 0,
            Phase::Silent if silent_for >= NEWCOMER_GRACE => 1,
            Phase::Silent | Phase::Handshaking | Phase::AwaitingRequest => 2,
            Phase::Served => 3,
        };
        (class, self.last_done.unwrap_or(self.opened))
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Count {
    connections: usize,
    handshakes: usize,
}

/// Every socket webd holds, the per-client counts, and the choice of
/// victims.
#[derive(Debug)]
pub struct Admission<H> {
    slots: usize,
    max_closing: usize,
    next: u64,
    live: usize,
    conns: HashMap<ConnId, Conn<H>>,
    clients: HashMap<IpAddr, Count>,
}

impl<H> Admission<H> {
    /// A table with `slots` live connections at most, and at most
    /// `max_closing` evicted ones still being closed on top of them.
    pub fn new(slots: usize, max_closing: usize) -> Admission<H> {
        Admission {
            slots,
            max_closing,
            next: 0,
            live: 0,
            conns: HashMap::new(),
            clients: HashMap::new(),
        }
    }

    /// Sockets held: live connections plus evicted ones not yet closed.
    pub fn held(&self) -> usize {
        self.conns.len()
    }

    /// The most sockets [`held`](Self::held) ever reaches.
    pub fn ceiling(&self) -> usize {
        self.slots + self.max_closing
    }

    /// Live (not evicted) connections.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Admits a connection from `ip` under `allowance`, evicting the least
    /// deserving live connection if every slot is taken.
    pub fn admit(
        &mut self,
        ip: IpAddr,
        allowance: Allowance,
        now: Instant,
        handle: H,
    ) -> Result<Admitted<H>, Refused> {
        let key = net_key(ip);
        let count = self.clients.get(&key).copied().unwrap_or_default();
        // At its allowance, a client's newcomer takes the place of that
        // client's own longest-idle served connection: a phone back from
        // sleep reconnects while webd still holds the keep-alive
        // connections it left, and must not be refused for them. A client
        // only ever displaces itself.
        let own = if count.connections >= allowance.connections {
            Some(self.own_idle(key).ok_or(Refused::Connections {
                limit: allowance.connections,
            })?)
        } else {
            None
        };
        if count.handshakes >= allowance.handshakes {
            return Err(Refused::Handshakes {
                limit: allowance.handshakes,
            });
        }
        if self.held() >= self.ceiling() {
            return Err(Refused::Full);
        }
        let evicted = if let Some(id) = own {
            Some(self.take(id).ok_or(Refused::Full)?)
        } else if self.live >= self.slots {
            Some(self.evict(now).ok_or(Refused::Full)?)
        } else {
            None
        };
        let id = ConnId(self.next);
        self.next += 1;
        self.conns.insert(
            id,
            Conn {
                key,
                opened: now,
                phase: Phase::Silent,
                ready: None,
                in_flight: 0,
                last_done: None,
                handle: Some(handle),
            },
        );
        self.live += 1;
        let c = self.clients.entry(key).or_default();
        c.connections += 1;
        c.handshakes += 1;
        Ok(Admitted { id, evicted })
    }

    /// `key`'s longest-idle live connection that was served and has no
    /// request in flight.
    fn own_idle(&self, key: IpAddr) -> Option<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| {
                c.key == key && c.live() && c.in_flight == 0 && c.phase == Phase::Served
            })
            .min_by_key(|(_, c)| c.last_done)
            .map(|(&id, _)| id)
    }

    /// Takes the slot of live connection `id`; its client's counts drop
    /// at once.
    fn take(&mut self, id: ConnId) -> Option<H> {
        let conn = self.conns.get_mut(&id)?;
        let handle = conn.handle.take()?;
        let (key, handshaking) = (conn.key, conn.handshaking());
        self.live -= 1;
        self.forget(key, handshaking);
        Some(handle)
    }

    /// Takes the slot of the lowest-ranked live connection without a
    /// request in flight; its client's counts drop at once.
    fn evict(&mut self, now: Instant) -> Option<H> {
        let (&id, _) = self
            .conns
            .iter()
            .filter(|(_, c)| c.live() && c.in_flight == 0)
            .min_by_key(|(_, c)| c.rank(now))?;
        self.take(id)
    }

    fn forget(&mut self, key: IpAddr, handshaking: bool) {
        if let Some(c) = self.clients.get_mut(&key) {
            c.connections = c.connections.saturating_sub(1);
            if handshaking {
                c.handshakes = c.handshakes.saturating_sub(1);
            }
            if c.connections == 0 {
                self.clients.remove(&key);
            }
        }
    }

    /// The connection's first bytes arrived.
    pub fn heard(&mut self, id: ConnId) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.phase = c.phase.max(Phase::Handshaking);
        }
    }

    /// The TLS handshake finished at `now`: the connection no longer
    /// counts against its client's handshakes.
    pub fn handshake_done(&mut self, id: ConnId, now: Instant) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let (key, was, live) = (c.key, c.handshaking(), c.live());
        if was {
            c.ready = Some(now);
        }
        c.phase = c.phase.max(Phase::AwaitingRequest);
        if was
            && live
            && let Some(count) = self.clients.get_mut(&key)
        {
            count.handshakes = count.handshakes.saturating_sub(1);
        }
    }

    /// A request reached the application.
    pub fn request_started(&mut self, id: ConnId) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.in_flight += 1;
        }
    }

    /// A request was answered (or abandoned) at `now`.
    pub fn request_finished(&mut self, id: ConnId, now: Instant) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.in_flight = c.in_flight.saturating_sub(1);
            c.phase = Phase::Served;
            c.last_done = Some(now);
        }
    }

    /// When the connection should be closed for lack of completed
    /// requests, if nothing changes first: `first_request` after it
    /// opened, or `idle` after its last answer. While a request is in
    /// flight (bounded by the request timeout), `idle` from `now`: the
    /// caller looks again then. `None` once the connection is gone.
    pub fn deadline(
        &self,
        id: ConnId,
        now: Instant,
        first_request: Duration,
        idle: Duration,
    ) -> Option<Instant> {
        let c = self.conns.get(&id)?;
        Some(if c.in_flight > 0 {
            now + idle
        } else if let Some(done) = c.last_done {
            done + idle
        } else {
            c.opened + first_request
        })
    }

    /// The connection's socket is closed.
    pub fn release(&mut self, id: ConnId) {
        let Some(c) = self.conns.remove(&id) else {
            return;
        };
        if c.live() {
            self.live -= 1;
            self.forget(c.key, c.handshaking());
        }
    }

    /// Connections `ip`'s client holds now.
    pub fn client_connections(&self, ip: IpAddr) -> usize {
        self.clients.get(&net_key(ip)).map_or(0, |c| c.connections)
    }
}

#[cfg(test)]
mod tests;
