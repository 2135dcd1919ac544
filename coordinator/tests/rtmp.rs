//! RTMP ingest with a real publisher: ffmpeg pushes H.264 + AAC to the
//! server; the publish is cut into source segments that ffprobe decodes
//! with every frame that was sent. A wrong stream key is refused, and
//! connections sending garbage or attacks (deeply nested AMF, a shrinking
//! chunk, half-sent huge messages) are closed without disturbing the server.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tessera_coordinator::live::cutter::StreamCutter;
use tessera_coordinator::live::publish::{Ingest, PublishGate};
use tessera_coordinator::live::rtmp;
use tessera_media::live_segmenter::LiveSegment;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

type Outcome = Result<Vec<LiveSegment>, String>;

/// Accepts one key; cuts its publish into segments and reports them at the end.
struct Gate {
    key: &'static str,
    refused: Mutex<Vec<String>>,
    done: Mutex<Option<oneshot::Sender<Outcome>>>,
}

#[async_trait]
impl PublishGate for Gate {
    async fn srt_passphrase(&self, _stream_key: &str) -> Result<Option<String>, String> {
        Ok(None)
    }

    async fn open(&self, _protocol: &'static str, stream_key: &str) -> Result<mpsc::Sender<Ingest>, String> {
        if stream_key != self.key {
            self.refused.lock().unwrap().push(stream_key.to_string());
            return Err("unknown stream key".into());
        }
        let (tx, mut rx) = mpsc::channel(256);
        let done = self.done.lock().unwrap().take();
        tokio::spawn(async move {
            let mut cutter = StreamCutter::new(Duration::from_secs(2), 0, 0.0);
            let mut segments = Vec::new();
            let mut outcome = Ok(());
            while let Some(message) = rx.recv().await {
                match cutter.push(message) {
                    Ok(cut) => segments.extend(cut),
                    Err(e) => outcome = Err(e.to_string()),
                }
                if cutter.ended() {
                    break;
                }
            }
            if let Some(done) = done {
                let _ = done.send(outcome.map(|()| segments));
            }
        });
        Ok(tx)
    }
}

fn push(port: u16, key: &str, secs: u32) -> std::process::Output {
    push_to(&format!("rtmp://127.0.0.1:{port}/live/{key}"), secs)
}

fn push_to(url: &str, secs: u32) -> std::process::Output {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
        .args(["-f", "lavfi", "-i", &format!("testsrc2=size=320x180:rate=30:duration={secs}")])
        .args(["-f", "lavfi", "-i", &format!("sine=frequency=440:sample_rate=48000:duration={secs}")])
        .args(["-c:v", "libx264", "-profile:v", "high", "-bf", "2", "-g", "60", "-keyint_min", "60"])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-f", "flv", url])
        .stdout(Stdio::null())
        .output()
        .expect("ffmpeg runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ffmpeg_push_becomes_decodable_source_segments_and_bad_peers_are_refused() {
    let (done_tx, done_rx) = oneshot::channel();
    let gate = Arc::new(Gate { key: "good-key", refused: Mutex::new(Vec::new()), done: Mutex::new(Some(done_tx)) });
    let listener = rtmp::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let shutdown = CancellationToken::new();
    tokio::spawn(rtmp::serve(listener, None, gate.clone(), shutdown.clone()));

    // Garbage: the server closes the connection.
    let mut garbage = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let noise: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    garbage.write_all(&noise).await.unwrap();
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), garbage.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "a garbage connection is closed");
    tessera_testkit::hostile::rtmp_attacks(port).await;

    // A wrong key: refused, ffmpeg fails.
    let refused = tokio::task::spawn_blocking(move || push(port, "wrong-key", 2)).await.unwrap();
    assert!(!refused.status.success(), "a publish with a wrong key must fail");
    assert_eq!(gate.refused.lock().unwrap().as_slice(), ["wrong-key"]);

    // The right key: 6 s with a keyframe every 2 s, B-frames, AAC.
    let pushed = tokio::task::spawn_blocking(move || push(port, "good-key", 6)).await.unwrap();
    assert!(pushed.status.success(), "{}", String::from_utf8_lossy(&pushed.stderr));
    let segments = tokio::time::timeout(Duration::from_secs(30), done_rx).await.unwrap().unwrap().unwrap();
    assert_eq!(segments.len(), 3, "three 2 s segments");
    let (mut frames, mut audio_frames) = (0, 0);
    for (i, segment) in segments.iter().enumerate() {
        assert_eq!(segment.seq as usize, i);
        assert!((segment.duration_secs - 2.0).abs() < 0.05, "segment {i}: {} s", segment.duration_secs);
        let parsed = tessera_media::source_segment::SourceSegment::parse(&segment.bytes).unwrap();
        let mut video = 0;
        tessera_media::av::video::decode_video(&parsed, (320, 180), &mut |_| {
            video += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(video, segment.frames, "segment {i} decodes every frame");
        let audio = parsed.audio().count();
        // 2 s is 93.75 AAC frames at 48 kHz; the last segment also holds the encoder's tail.
        assert!((90..=100).contains(&audio), "segment {i}: about 2 s of AAC frames, got {audio}");
        frames += video;
        audio_frames += audio;
    }
    assert_eq!(frames, 180, "every frame that was sent");
    assert!((280..=290).contains(&audio_frames), "6 s of audio: {audio_frames} frames");
    shutdown.cancel();
}

/// RTMPS: the same server inside TLS, with a certificate made for the test;
/// a plain RTMP client on the RTMPS port is refused, a TLS one publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rtmps_push_with_the_operators_certificate_is_cut_like_rtmp() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-keyout", key.to_str().unwrap(), "-out", cert.to_str().unwrap()])
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let tls = rtmp::tls_acceptor(&cert, &key).unwrap();
    assert!(rtmp::tls_acceptor(&key, &cert).is_err(), "certificate and key swapped: an error, not a panic");

    let (done_tx, done_rx) = oneshot::channel();
    let gate = Arc::new(Gate { key: "good-key", refused: Mutex::new(Vec::new()), done: Mutex::new(Some(done_tx)) });
    let listener = rtmp::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let shutdown = CancellationToken::new();
    tokio::spawn(rtmp::serve(listener, Some(tls), gate.clone(), shutdown.clone()));

    let plain = tokio::task::spawn_blocking(move || push(port, "good-key", 1)).await.unwrap();
    assert!(!plain.status.success(), "plain RTMP on the RTMPS port must fail");
    // ffmpeg does not verify certificates unless asked (tls_verify): a self-signed one is fine here.
    let url = format!("rtmps://127.0.0.1:{port}/live/good-key");
    let pushed = tokio::task::spawn_blocking(move || push_to(&url, 4)).await.unwrap();
    assert!(pushed.status.success(), "{}", String::from_utf8_lossy(&pushed.stderr));
    let segments = tokio::time::timeout(Duration::from_secs(30), done_rx).await.unwrap().unwrap().unwrap();
    assert_eq!(segments.iter().map(|s| s.frames).sum::<usize>(), 120, "every frame sent over RTMPS");
    shutdown.cancel();
}
