//! Writing a finished VOD job: init segments, media playlists, then the
//! master playlist and MPD, then the report. Every fragment a manifest lists
//! exists before the manifest is written (workers report a segment only
//! after its fragment is stored).

use std::collections::BTreeSet;

use bytes::Bytes;
use tessera_core::wire::{output_key, JobPlan};
use tessera_core::Store;

use crate::dash::static_mpd;
use crate::error::PackagerError;
use crate::hls::{iframe_playlist, iframe_playlist_uri, master_playlist, media_playlist};
use crate::init::init_of;
use crate::job::Finished;
use crate::rendition::Rendition;
use crate::report::{JobReport, JobTiming, RenditionReport, ThumbnailsReport};
use crate::{subtitles, thumbnails};

/// Manifests that make a package look finished; removed when a job starts
/// so a failed run never leaves an earlier run's manifests behind.
pub const TOP_LEVEL_OUTPUTS: [&str; 4] = ["master.m3u8", "manifest.mpd", "report.json", thumbnails::TRACK];

/// Removes finished-looking manifests under the job's output prefix.
pub async fn clear_manifests(outputs: &Store, plan: &JobPlan) -> Result<(), PackagerError> {
    for name in TOP_LEVEL_OUTPUTS {
        outputs.delete(&output_key(&plan.output_prefix, name)).await?;
    }
    for r in &plan.renditions {
        for playlist in ["index.m3u8", "iframes.m3u8"] {
            outputs.delete(&output_key(&plan.output_prefix, &format!("{}/{playlist}", r.name()))).await?;
        }
    }
    Ok(())
}

/// Writes the package of a finished job and returns the report and the keys written.
pub async fn package_vod(
    outputs: &Store,
    plan: &JobPlan,
    finished: &Finished,
    discontinuities: &BTreeSet<u32>,
    playable_at_ms: Option<u64>,
) -> Result<(JobReport, Vec<String>), PackagerError> {
    let (videos, audios) = (&finished.videos, &finished.audios);
    let key = |rel: &str| output_key(&plan.output_prefix, rel);
    let mut written = Vec::new();
    for r in videos.iter().chain(audios) {
        let init = init_of(r)?;
        let init_key = key(&format!("{}/init.mp4", r.name()));
        outputs.put(&init_key, Bytes::from(init)).await?;
        let playlist_key = key(&format!("{}/index.m3u8", r.name()));
        outputs.put(&playlist_key, Bytes::from(media_playlist(r, discontinuities))).await?;
        written.extend([init_key, playlist_key]);
        if let Some(iframes) = iframe_playlist(r, true) {
            let iframes_key = key(&iframe_playlist_uri(r));
            outputs.put(&iframes_key, Bytes::from(iframes)).await?;
            written.push(iframes_key);
        }
    }
    let texts = subtitles::text_tracks(plan, finished)?;
    let duration = videos.first().map_or(plan.source.duration_secs, Rendition::duration_secs);
    for track in &texts {
        for (rel, text) in [
            (subtitles::vtt_key(track), track.webvtt.clone()),
            (subtitles::playlist_key(track), subtitles::playlist(track, duration)),
        ] {
            outputs.put(&key(&rel), Bytes::from(text)).await?;
            written.push(key(&rel));
        }
    }
    let video_refs: Vec<&Rendition> = videos.iter().collect();
    let audio_refs: Vec<&Rendition> = audios.iter().collect();
    for (name, text) in [
        ("master.m3u8", master_playlist(&video_refs, &audio_refs, &texts)),
        ("manifest.mpd", static_mpd(&video_refs, &audio_refs, &texts)),
    ] {
        outputs.put(&key(name), Bytes::from(text)).await?;
        written.push(key(name));
    }
    // The thumbnails' sprites and poster were written by their tasks; their track goes with the manifests.
    let thumbnails = match &finished.thumbnails {
        Some(t) => {
            outputs.put(&key(thumbnails::TRACK), Bytes::from(thumbnails::webvtt(t, plan.source.duration_secs))).await?;
            written.push(key(thumbnails::TRACK));
            ThumbnailsReport::of(t)
        }
        None => None,
    };
    let report = JobReport {
        source: plan.source.clone(),
        renditions: videos.iter().chain(audios).map(RenditionReport::of).collect(),
        timing: JobTiming::of(plan, playable_at_ms, tessera_core::clock::now_ms()),
        thumbnails,
    };
    outputs.put(&key("report.json"), Bytes::from(report.to_json())).await?;
    written.push(key("report.json"));
    Ok((report, written))
}
