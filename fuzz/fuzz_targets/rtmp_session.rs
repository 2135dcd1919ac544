//! An RTMP peer's bytes after the handshake, as the coordinator reads them:
//! split into reads, each through the chunk guard and, if it lets them
//! through, into rml_rtmp's server session. Neither may panic, overflow the
//! stack or allocate without bound; a refusal ends the input, as it closes
//! the connection. The first byte picks where reads split, the second
//! whether the publish was already accepted (media of any size allowed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rml_rtmp::sessions::{ServerSession, ServerSessionConfig};

// The coordinator's own guard, compiled here without the coordinator's dependencies.
#[path = "../../coordinator/src/live/chunk_guard.rs"]
#[allow(dead_code)]
mod chunk_guard;

fuzz_target!(|data: &[u8]| {
    let [split, publishing, bytes @ ..] = data else { return };
    let Ok((mut session, _)) = ServerSession::new(ServerSessionConfig::new()) else { return };
    let mut guard = chunk_guard::ChunkGuard::new();
    if publishing & 1 == 1 {
        guard.publishing();
    }
    for read in bytes.chunks(usize::from(*split).max(1) * 16) {
        if guard.inspect(read).is_err() {
            return;
        }
        if session.handle_input(read).is_err() {
            return;
        }
    }
});
