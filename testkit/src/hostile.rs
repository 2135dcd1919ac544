//! Hostile inputs of issue 13, made in the test: RTMP peers that used to
//! crash or bloat the coordinator, and MP4 files whose boxes nest thousands
//! deep. Each RTMP attack must end with the server closing that connection
//! and nothing else.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connects and completes a plain RTMP handshake.
pub async fn rtmp_handshake(port: u16) -> TcpStream {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).await.expect("the RTMP port accepts");
    let mut c0c1 = vec![3u8];
    c0c1.extend((0..1536u32).map(|i| if i < 8 { 0 } else { (i * 7) as u8 }));
    socket.write_all(&c0c1).await.expect("C0 C1 sent");
    let mut s0s1s2 = vec![0u8; 1 + 1536 * 2];
    socket.read_exact(&mut s0s1s2).await.expect("S0 S1 S2 received");
    socket.write_all(&s0s1s2[1..1537]).await.expect("C2 sent");
    socket
}

/// A message as 128-byte chunks on chunk stream 3 (a type 0 header, then type 3 ones).
pub fn rtmp_chunks(type_id: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![3, 0, 0, 0];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.push(type_id);
    out.extend_from_slice(&0u32.to_le_bytes());
    for (i, piece) in payload.chunks(128).enumerate() {
        if i > 0 {
            out.push(0xc3);
        }
        out.extend_from_slice(piece);
    }
    out
}

/// Whether the server closes the connection within 10 s (reading whatever it sends).
async fn closed(mut socket: TcpStream) -> bool {
    let mut sink = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut sink)).await.is_ok()
}

/// Runs the RTMP attacks against `port`; panics unless each connection is closed.
pub async fn rtmp_attacks(port: u16) {
    // `connect` whose command object nests 3,100 objects (12 KB): rml_amf0
    // would recurse until the stack overflows and the process aborts.
    let mut connect = vec![2, 0, 7];
    connect.extend_from_slice(b"connect");
    connect.extend_from_slice(&[0, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 3]);
    for _ in 1..3100 {
        connect.extend_from_slice(&[0, 1, b'a', 3]);
    }
    connect.extend(std::iter::repeat_n([0u8, 0, 9], 3100).flatten());
    let mut socket = rtmp_handshake(port).await;
    socket.write_all(&rtmp_chunks(20, &connect)).await.expect("sent");
    assert!(closed(socket).await, "nested AMF0 closes the connection");

    // A chunk header that shrinks a message being read (rml_rtmp: capacity overflow).
    let mut socket = rtmp_handshake(port).await;
    let mut shrinking = rtmp_chunks(20, &[5u8; 1000]);
    shrinking.truncate(12 + 128);
    shrinking.extend([0x43, 0, 0, 0, 0, 0, 10, 20]);
    shrinking.extend([5u8; 10]);
    socket.write_all(&shrinking).await.expect("sent");
    assert!(closed(socket).await, "a shrinking chunk closes the connection");

    // Twenty connections each starting a 16 MB message before any stream key.
    let mut half_sent = Vec::new();
    for _ in 0..20 {
        let mut socket = rtmp_handshake(port).await;
        let mut huge = rtmp_chunks(9, &[0u8; 4096]);
        huge[4..7].copy_from_slice(&[0xff, 0xff, 0xff]);
        let _ = socket.write_all(&huge).await;
        half_sent.push(socket);
    }
    for socket in half_sent {
        assert!(closed(socket).await, "a half-sent 16 MB message closes the connection");
    }
}

/// An MP4 whose `moov` holds `depth` nested `trak` boxes (about 3.2 KB at 400).
pub fn nested_trak_mp4(depth: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&20u32.to_be_bytes());
    out.extend_from_slice(b"ftypisom\0\0\x02\0isom");
    let moov = 8 + 8 * depth;
    out.extend_from_slice(&(moov as u32).to_be_bytes());
    out.extend_from_slice(b"moov");
    for level in 0..depth {
        out.extend_from_slice(&((8 * (depth - level)) as u32).to_be_bytes());
        out.extend_from_slice(b"trak");
    }
    out
}
