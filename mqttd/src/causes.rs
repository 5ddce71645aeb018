//! The causes of an outage of the broker link already logged, so a long
//! outage logs each distinct cause once.

/// The causes of an outage already logged: each distinct cause once until
/// the next success, even when attempts alternate between causes (a broker
/// name with an IPv6 address nothing listens on and an IPv4 one that
/// refuses the password).
#[derive(Debug, Clone, Default)]
pub struct Causes(Vec<String>);

impl Causes {
    /// At most this many distinct causes are remembered per outage.
    const MAX: usize = 16;

    /// Whether `key` is new in this outage (and remembers it).
    pub fn first(&mut self, key: &str) -> bool {
        if self.0.iter().any(|k| k == key) {
            return false;
        }
        if self.0.len() < Self::MAX {
            self.0.push(key.to_owned());
        }
        true
    }

    /// A success: the next failure is news again.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternating_causes_are_each_logged_once_per_outage() {
        let mut c = Causes::default();
        assert!(c.first("refused"));
        assert!(c.first("login"));
        for _ in 0..5 {
            assert!(!c.first("refused"));
            assert!(!c.first("login"));
        }
        c.clear();
        assert!(c.first("login"));
    }
}
