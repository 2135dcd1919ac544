//! NATS subject matching: tokens split on `.`, `*` matches one token, `>`
//! matches one or more trailing tokens.

/// True when `subject` matches `pattern`.
pub fn matches(pattern: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for p in pattern.split('.') {
        match (p, subject_tokens.next()) {
            (">", Some(_)) => return true,
            (_, None) => return false,
            ("*", Some(_)) => {}
            (p, Some(s)) if p == s => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

/// True when some subject could match both patterns (used to refuse
/// overlapping work-queue consumers, as JetStream does).
pub fn overlap(a: &str, b: &str) -> bool {
    let (mut ta, mut tb) = (a.split('.'), b.split('.'));
    loop {
        match (ta.next(), tb.next()) {
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (None, None) => return true,
            (Some(x), Some(y)) if x == "*" || y == "*" || x == y => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("tessera.tasks.>", "tessera.tasks.cpu.h264"));
        assert!(!matches("tessera.tasks.>", "tessera.tasks"));
        assert!(matches("tessera.tasks.*.h264", "tessera.tasks.gpu.h264"));
        assert!(!matches("tessera.tasks.*.h264", "tessera.tasks.gpu.av1"));
        assert!(!matches("a.b", "a.b.c"));
        assert!(matches("a.b", "a.b"));
    }

    #[test]
    fn overlapping_filters() {
        assert!(overlap("tessera.tasks.cpu.>", "tessera.tasks.*.h264"));
        assert!(!overlap("tessera.tasks.cpu.h264", "tessera.tasks.cpu.av1"));
        assert!(overlap("a.*", "a.b"));
        assert!(!overlap("a.*", "a.b.c"));
    }
}
