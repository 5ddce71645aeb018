//! Unit tests of the capability module: the names, the bounding-set walk,
//! a leftover bit named with its set and, as root, the drop checked
//! against `/proc`.

use super::*;

#[test]
fn names_follow_the_kernel_header() {
    assert_eq!(name(CAP_SETPCAP), Some("CAP_SETPCAP"));
    assert_eq!(name(17), Some("CAP_SYS_RAWIO"));
    assert_eq!(name(40), Some("CAP_CHECKPOINT_RESTORE"));
    assert_eq!(name(41), None);
    assert_eq!(describe(0), "none");
    assert_eq!(
        describe((1 << 12) | (1 << 41)),
        "CAP_NET_ADMIN (12), capability 41"
    );
}

#[test]
fn the_bounding_set_walk_reaches_the_kernels_last_capability() {
    // Whatever this kernel has, the walk sees it: PR_CAPBSET_READ answers
    // for exactly 0..=cap_last_cap.
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .expect("/proc/sys/kernel/cap_last_cap")
        .trim()
        .parse()
        .expect("a number");
    assert!(in_bounding_set(last).unwrap().is_some(), "cap {last}");
    assert_eq!(in_bounding_set(last + 1).unwrap(), None, "cap {}", last + 1);
    assert_eq!(in_bounding_set(64).unwrap(), None);
}

#[test]
fn a_leftover_bit_is_named_with_its_set() {
    let clean = Status {
        cap_bnd: 1 << 10,
        ..Status::default()
    };
    assert_eq!(leftover(&clean, 1 << 10, Some(1 << 10)), None);
    // An unprivileged start leaves the bounding set unchecked.
    let inherited = Status {
        cap_bnd: u64::MAX,
        ..Status::default()
    };
    assert_eq!(leftover(&inherited, 0, None), None);
    assert_eq!(leftover(&inherited, 0, Some(0)), Some(("CapBnd", u64::MAX)));
    for (st, set) in [
        (
            Status {
                cap_eff: 1 << 17,
                ..Status::default()
            },
            "CapEff",
        ),
        (
            Status {
                cap_prm: 1 << 17,
                ..Status::default()
            },
            "CapPrm",
        ),
        (
            Status {
                cap_inh: 1 << 17,
                ..Status::default()
            },
            "CapInh",
        ),
        (
            Status {
                cap_amb: 1 << 17,
                ..Status::default()
            },
            "CapAmb",
        ),
        (
            Status {
                cap_bnd: 1 << 17,
                ..Status::default()
            },
            "CapBnd",
        ),
    ] {
        let (found, caps) = leftover(&st, 0, Some(0)).expect(set);
        assert_eq!((found, caps), (set, 1 << 17));
        let e = DropError::Left {
            set: found,
            caps,
            path: "/proc/self/task/1/status".into(),
        };
        assert!(
            e.to_string()
                .starts_with(&format!("CAP_SYS_RAWIO (17) still in {set} after the drop")),
            "{e}"
        );
    }
    // A capability newer than the names here is found and reported too.
    let newer = Status {
        cap_bnd: 1 << 41,
        ..Status::default()
    };
    assert_eq!(leftover(&newer, 0, Some(0)), Some(("CapBnd", 1 << 41)));
    // Kept capabilities are allowed in E/P/bounding, never inheritable.
    let kept = Status {
        cap_eff: 1 << 10,
        cap_prm: 1 << 10,
        cap_inh: 1 << 10,
        ..Status::default()
    };
    assert_eq!(
        leftover(&kept, 1 << 10, Some(1 << 10)),
        Some(("CapInh", 1 << 10))
    );
}

/// The drop on one thread is verified against that thread's status, not
/// the main thread's: here the test's main thread keeps root's
/// capabilities while a second thread drops its own.
#[test]
#[cfg_attr(
    tinsel_unprivileged,
    ignore = "needs root: a thread must hold capabilities to drop them"
)]
fn as_root_a_thread_drops_and_verifies_its_own_capabilities() {
    assert_ne!(get().unwrap().effective, 0, "this test needs root");
    let keep = 1 << 10; // CAP_NET_BIND_SERVICE
    let dropped = std::thread::spawn(move || {
        let r = drop_all_but(keep).map_err(|e| e.to_string());
        let st = Status::parse(
            &std::fs::read_to_string(format!(
                "/proc/self/task/{}/status",
                rt::gettid().as_raw_nonzero()
            ))
            .unwrap(),
        );
        (r, st)
    })
    .join()
    .unwrap();
    let (r, st) = dropped;
    assert_eq!(r.unwrap(), Dropped::All);
    assert_eq!(
        (st.cap_eff, st.cap_prm, st.cap_inh, st.cap_amb, st.cap_bnd),
        (keep, keep, 0, 0, keep)
    );
    let main = Status::current().unwrap();
    assert_ne!(main.cap_eff & !keep, 0, "the main thread keeps its own");
    assert!(
        verify_thread(keep, Some(keep)).is_err(),
        "and they are seen"
    );
}
