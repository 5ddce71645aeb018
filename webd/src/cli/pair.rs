//! `webd pair --name NAME`, `webd devices`, `webd revoke NAME`: the
//! admin's side of the page's devices. They read `[page]` from webd's
//! config and work on its devices directory ([`crate::devices`]); the
//! running webd sees the change on its next request, with no signal and
//! no socket between them.

use crate::domain::date::now_unix;
use std::path::Path;

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

use crate::config::Config;
use crate::devices::Store;
use crate::domain::date::rfc3339;
use crate::domain::page::PAIRING_LIFETIME;
use tinsel_daemon::exit::Exit;

/// The config and its devices directory, or the exit after saying why.
fn open(config: &Path) -> Result<(Config, Store), Exit> {
    let config = Config::load(config).map_err(|e| {
        eprintln!("webd: {e}");
        e.exit()
    })?;
    if !config.page.enabled {
        eprintln!(
            "webd: the page is off in {}: set `enabled = true` under [page], then restart webd",
            config.path.display()
        );
        return Err(Exit::Config);
    }
    let store = Store::new(&config.page.devices_dir);
    if !store.dir().is_dir() {
        eprintln!(
            "webd: {} does not exist yet: start webd with the page on (it creates the directory), then pair",
            store.dir().display()
        );
        return Err(Exit::Config);
    }
    Ok((config, store))
}

/// The page's address as the admin's phone reaches it: `--url`, else
/// this host's name (with `.local`, which mDNS resolves on a LAN) and
/// the port webd listens on.
pub fn page_url(config: &Config, url: Option<&str>) -> String {
    if let Some(url) = url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    let host = if host.contains('.') {
        host
    } else {
        format!("{host}.local")
    };
    match config.listen.port() {
        443 => format!("https://{host}"),
        port => format!("https://{host}:{port}"),
    }
}

/// The pairing link for `code` at `base`: the code is in the fragment,
/// which a browser never sends to a server, into a log or a `Referer`.
pub fn pairing_link(base: &str, code: &str) -> String {
    format!("{base}/pair#{code}")
}

/// `link` as a QR code drawn with Unicode half blocks, light on dark so a
/// dark terminal shows it as phones expect.
pub fn qr(link: &str) -> Option<String> {
    let code = QrCode::new(link.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

/// `webd pair`.
pub fn run_pair(config: &Path, name: &str, url: Option<&str>) -> Exit {
    let (config, store) = match open(config) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let now = now_unix();
    let expires = now + PAIRING_LIFETIME.as_secs();
    let code = match store.add_pairing(name, now, expires, config.page.max_devices) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("webd: {e}");
            return match e {
                crate::devices::StoreError::Io { .. } => Exit::Permission,
                crate::devices::StoreError::Random => Exit::Internal,
                _ => Exit::Usage,
            };
        }
    };
    let link = pairing_link(&page_url(&config, url), &code);
    if let Some(qr) = qr(&link) {
        println!("{qr}");
    }
    println!("{link}");
    eprintln!(
        "webd: open this link on \"{name}\" before {} (10 minutes); it works once. A self-signed certificate makes the phone warn first.",
        rfc3339(expires)
    );
    Exit::Ok
}

/// `webd devices`.
pub fn run_devices(config: &Path) -> Exit {
    let (_, store) = match open(config) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    match store.devices() {
        Ok(devices) => {
            if devices.is_empty() {
                eprintln!("webd: no device is paired; pair one with `webd pair --name NAME`");
            }
            for d in devices {
                let d = d.device;
                println!(
                    "{}\tpaired {}\tlast used {}\texpires {}",
                    d.name,
                    rfc3339(d.created),
                    d.last_used.map_or_else(|| "never".to_owned(), rfc3339),
                    rfc3339(d.expires)
                );
            }
            Exit::Ok
        }
        Err(e) => {
            eprintln!("webd: {e}");
            Exit::Permission
        }
    }
}

/// `webd revoke`.
pub fn run_revoke(config: &Path, name: &str) -> Exit {
    let (_, store) = match open(config) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    match store.revoke(name) {
        Ok(0) => {
            eprintln!("webd: no device is named \"{name}\"; `webd devices` lists them");
            Exit::Usage
        }
        Ok(_) => {
            println!("revoked \"{name}\": its next request is refused");
            Exit::Ok
        }
        Err(e) => {
            eprintln!("webd: {e}");
            Exit::Permission
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_keeps_the_code_in_the_fragment_and_draws_as_a_qr_code() {
        let link = pairing_link("https://tree.local:8443/", "AbC-_123");
        assert_eq!(link, "https://tree.local:8443//pair#AbC-_123");
        let link = pairing_link("https://tree.local:8443/".trim_end_matches('/'), "AbC-_123");
        assert_eq!(link, "https://tree.local:8443/pair#AbC-_123");
        let qr = qr(&link).unwrap();
        assert!(qr.lines().count() > 10 && qr.contains('█'), "{qr}");
    }
}
