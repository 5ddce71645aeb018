//! The socket's keys: `socket` (the path; its default when left out is in
//! `default_socket.rs`), `socket_group` and `socket_mode`.

use std::path::PathBuf;

use super::ConfigError;
use super::default_socket::default_socket;
use super::names::resolve_group;
use super::validate::Validator;

/// The default socket permissions: owner and group may connect.
pub const DEFAULT_SOCKET_MODE: u32 = 0o660;

/// The checked socket keys: the path, the owning group (name and gid) if
/// any, and the permission bits.
type SocketKeys = (PathBuf, Option<(String, u32)>, u32);

impl Validator<'_> {
    pub(super) fn socket(
        &self,
        socket: Option<PathBuf>,
        group: Option<String>,
        mode: Option<String>,
    ) -> Result<SocketKeys, ConfigError> {
        let socket = socket.unwrap_or_else(default_socket);
        if socket.as_os_str().is_empty() || socket.as_os_str().len() > 100 {
            return Err(self.invalid(
                "socket",
                format!("{:?}", socket.display().to_string()),
                "use a path of 1 to 100 bytes (the kernel's sun_path limit is 108)".into(),
            ));
        }

        let socket_group = match group.filter(|g| !g.is_empty()) {
            None => None,
            Some(name) => match resolve_group(&name) {
                Some(gid) => Some((name, gid)),
                None => {
                    return Err(self.invalid(
                        "socket_group",
                        format!("{name:?}"),
                        "no such group: create it or leave socket_group out".into(),
                    ));
                }
            },
        };

        let socket_mode = match mode {
            None => DEFAULT_SOCKET_MODE,
            Some(text) => match u32::from_str_radix(text.trim_start_matches("0o"), 8) {
                Ok(m) if m <= 0o777 => m,
                _ => {
                    return Err(self.invalid(
                        "socket_mode",
                        format!("{text:?}"),
                        "use octal permission bits as a string, e.g. \"0660\"".into(),
                    ));
                }
            },
        };
        Ok((socket, socket_group, socket_mode))
    }
}
