//! [`ChannelOrder`]: the order in which a strip expects the colour bytes of
//! one LED, parsed from its config name (`grb`, `rgb`, `grbw`, ...).

/// The order in which a strip expects its colour bytes: three (RGB parts)
/// or four (RGBW parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelOrder {
    /// For each wire byte, the index of the channel (0 r, 1 g, 2 b, 3 w) it
    /// carries; only the first [`ChannelOrder::channels`] are used.
    pub wire: [u8; 4],
    channels: u8,
}

impl ChannelOrder {
    /// Green, red, blue: what WS2812B parts expect.
    pub const GRB: ChannelOrder = ChannelOrder {
        wire: [1, 0, 2, 3],
        channels: 3,
    };

    /// Parses `rgb`, `grb`, `bgr`, ... (any permutation of r, g, b) or, for
    /// RGBW parts, any permutation of r, g, b and w (`grbw`).
    pub fn parse(s: &str) -> Option<ChannelOrder> {
        let b = s.as_bytes();
        if b.len() != 3 && b.len() != 4 {
            return None;
        }
        let mut wire = [3u8; 4];
        for (slot, c) in wire.iter_mut().zip(b) {
            *slot = match c.to_ascii_lowercase() {
                b'r' => 0,
                b'g' => 1,
                b'b' => 2,
                b'w' => 3,
                _ => return None,
            };
        }
        let used = &wire[..b.len()];
        let distinct = (0..used.len()).all(|i| !used[i + 1..].contains(&used[i]));
        let complete = used.contains(&0) && used.contains(&1) && used.contains(&2);
        (distinct && complete).then_some(ChannelOrder {
            wire,
            channels: b.len() as u8,
        })
    }

    /// Bytes per LED on the wire: 3 or 4.
    pub fn channels(self) -> usize {
        usize::from(self.channels)
    }

    /// The name, e.g. "grb".
    pub fn name(self) -> String {
        self.wire[..self.channels()]
            .iter()
            .map(|&c| ['r', 'g', 'b', 'w'][usize::from(c)])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_orders_parse() {
        assert_eq!(ChannelOrder::parse("rgb").unwrap().wire[..3], [0, 1, 2]);
        assert_eq!(ChannelOrder::parse("GRB"), Some(ChannelOrder::GRB));
        assert_eq!(ChannelOrder::parse("bgr").unwrap().name(), "bgr");
        assert!(ChannelOrder::parse("rg").is_none());
        assert!(ChannelOrder::parse("rgx").is_none());
        let grbw = ChannelOrder::parse("grbw").unwrap();
        assert_eq!(
            (grbw.wire, grbw.channels(), grbw.name()),
            ([1, 0, 2, 3], 4, "grbw".into())
        );
        assert!(ChannelOrder::parse("rgbb").is_none(), "a channel twice");
        assert!(ChannelOrder::parse("rgww").is_none());
        assert!(ChannelOrder::parse("rgwb").is_some());
    }
}
