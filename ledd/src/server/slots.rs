//! The connection slots: a shared pool every role may use, a reserve only
//! admin peers may use, and a cap per hooks uid. A compromised hooks client
//! (webd, the scheduler, mqttd) can neither lock root's `ledctl` out nor
//! take the slots the other hooks clients need.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tinsel_proto::Role;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connections any role may hold at once; a hooks peer past them is
/// answered "busy" and closed.
pub const SHARED_CONNECTIONS: usize = 56;
/// Connections kept for the admin role (root, `[access] admin_users` and
/// `admin_groups`) that no hooks peer can take: a compromised webd holding
/// every shared slot still cannot lock root's `ledctl` out.
pub const ADMIN_RESERVED_CONNECTIONS: usize = 8;
/// The most connections served at once.
pub const MAX_CONNECTIONS: usize = SHARED_CONNECTIONS + ADMIN_RESERVED_CONNECTIONS;
/// Connections one hooks uid may hold at once: webd, the scheduler and
/// mqttd each keep one, so one of them compromised cannot take the shared
/// slots the others need.
pub const HOOKS_CONNECTIONS_PER_UID: usize = 16;

/// The connection slots: a shared pool, a reserve only admin peers may use,
/// and a count per hooks uid.
#[derive(Debug)]
pub struct Slots {
    shared: Arc<Semaphore>,
    admin: Arc<Semaphore>,
    per_uid: usize,
    hooks_uids: Arc<Mutex<HashMap<u32, usize>>>,
}

/// A held connection slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    /// The hooks uid counted, for the drop.
    uid: Option<u32>,
    hooks_uids: Arc<Mutex<HashMap<u32, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(uid) = self.uid
            && let Ok(mut counts) = self.hooks_uids.lock()
            && let Some(n) = counts.get_mut(&uid)
        {
            *n -= 1;
            if *n == 0 {
                counts.remove(&uid);
            }
        }
    }
}

/// Why a peer got no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// Every slot its role may use is taken.
    Pool,
    /// Its uid holds [`HOOKS_CONNECTIONS_PER_UID`] connections already.
    Uid,
}

impl Default for Slots {
    fn default() -> Self {
        Slots::new(
            SHARED_CONNECTIONS,
            ADMIN_RESERVED_CONNECTIONS,
            HOOKS_CONNECTIONS_PER_UID,
        )
    }
}

impl Slots {
    /// `shared` slots for every role, `admin` more for admin peers only,
    /// and at most `per_uid` for one hooks uid.
    pub fn new(shared: usize, admin: usize, per_uid: usize) -> Slots {
        Slots {
            shared: Arc::new(Semaphore::new(shared)),
            admin: Arc::new(Semaphore::new(admin)),
            per_uid,
            hooks_uids: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A slot for a peer of `role` and `uid`. Admin peers take the reserve
    /// first, so that their connections (a long `ledctl watch`) leave the
    /// shared pool to hooks peers, then the shared pool; hooks peers only
    /// the shared pool, up to the per-uid cap.
    pub fn acquire(&self, role: Role, uid: u32) -> Result<Slot, Full> {
        let slot = |permit, uid| Slot {
            _permit: permit,
            uid,
            hooks_uids: Arc::clone(&self.hooks_uids),
        };
        match role {
            Role::Admin => Arc::clone(&self.admin)
                .try_acquire_owned()
                .or_else(|_| Arc::clone(&self.shared).try_acquire_owned())
                .map(|p| slot(p, None))
                .map_err(|_| Full::Pool),
            Role::Hooks => {
                // The map holds at most one entry per held hooks slot.
                let mut counts = self.hooks_uids.lock().map_err(|_| Full::Pool)?;
                let held = counts.get(&uid).copied().unwrap_or(0);
                if held >= self.per_uid {
                    return Err(Full::Uid);
                }
                let permit = Arc::clone(&self.shared)
                    .try_acquire_owned()
                    .map_err(|_| Full::Pool)?;
                counts.insert(uid, held + 1);
                drop(counts);
                Ok(slot(permit, Some(uid)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_peers_cannot_take_the_admin_reserve() {
        let slots = Slots::new(3, 2, 2);
        let (webd, sched) = (998, 999);
        // A hooks uid stops at its own cap while the pool has room...
        let mut held = vec![
            slots.acquire(Role::Hooks, webd).unwrap(),
            slots.acquire(Role::Hooks, webd).unwrap(),
        ];
        assert_eq!(slots.acquire(Role::Hooks, webd).unwrap_err(), Full::Uid);
        // ...another hooks uid takes the rest of the shared pool...
        held.push(slots.acquire(Role::Hooks, sched).unwrap());
        assert_eq!(slots.acquire(Role::Hooks, sched).unwrap_err(), Full::Pool);
        assert_eq!(slots.acquire(Role::Hooks, 1000).unwrap_err(), Full::Pool);
        // ...and the admin still gets in, on the reserve.
        let a1 = slots.acquire(Role::Admin, 0).unwrap();
        let a2 = slots.acquire(Role::Admin, 0).unwrap();
        assert_eq!(slots.acquire(Role::Admin, 0).unwrap_err(), Full::Pool);
        // A freed hooks slot serves hooks peers again, and its uid's count
        // goes down with it.
        held.remove(0);
        assert_eq!(slots.hooks_uids.lock().unwrap().get(&webd), Some(&1));
        held.push(slots.acquire(Role::Hooks, 1000).unwrap());
        assert_eq!(slots.acquire(Role::Hooks, webd).unwrap_err(), Full::Pool);
        drop((a1, a2));
        drop(held);
        assert!(slots.hooks_uids.lock().unwrap().is_empty());
        // The admin takes the reserve first, leaving the pool to hooks.
        let _admin = slots.acquire(Role::Admin, 0).unwrap();
        assert_eq!(slots.shared.available_permits(), 3);
        assert_eq!(slots.admin.available_permits(), 1);
    }
}
