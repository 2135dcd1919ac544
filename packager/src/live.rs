//! A live job as the packager sees it: while the broadcast runs, each
//! rendition's media playlist lists a sliding window of its segments, but
//! only segments that are written together with every earlier one; the
//! master playlist appears once every rendition has its first segment; a
//! dynamic MPD follows the window. When the broadcast has ended and every
//! segment is written, the same URLs are rewritten as VOD (every segment,
//! ENDLIST, static MPD) by the VOD packaging.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use tessera_core::wire::{output_key, JobEventKind, JobPlan, LivePlan, PartDone, RenditionSpec, SegmentDone};
use tessera_core::Store;

use crate::dash::{dynamic_mpd, LiveTiming};
use crate::error::PackagerError;
use crate::hls::{live_media_playlist, master_playlist, LowLatency};
use crate::init::init_of;
use crate::job::{JobAssembly, Step};
use crate::rendition::Rendition;

/// One broadcast's progress.
#[derive(Debug, Clone)]
pub struct LiveJob {
    plan: LivePlan,
    assembly: JobAssembly,
    /// Per rendition, how many segments (from 0) are written in an unbroken run.
    listed: HashMap<String, u32>,
    master_written: bool,
    /// Segments that follow a publisher's reconnect.
    discontinuities: BTreeSet<u32>,
    /// The longest segment listed so far (s): the target duration may grow, never shrink (RFC 8216 6.2.1).
    longest_secs: f64,
    /// Low-latency channels: per rendition, the parts written (segment -> parts by number).
    parts: HashMap<String, BTreeMap<u32, Vec<PartDone>>>,
    /// Per rendition, the parts last listed: (segments in the run, parts of the open segment).
    listed_parts: HashMap<String, (u32, usize)>,
    /// Parts whose listing every rendition has not reached yet: (seq, part) -> (cut at, renditions listing it).
    pending_latency: BTreeMap<(u32, u32), (u64, usize)>,
}

impl LiveJob {
    /// A broadcast that has just been planned.
    pub fn new(plan: LivePlan) -> Self {
        Self {
            plan,
            assembly: JobAssembly::new(),
            listed: HashMap::new(),
            master_written: false,
            discontinuities: BTreeSet::new(),
            longest_secs: 0.0,
            parts: HashMap::new(),
            listed_parts: HashMap::new(),
            pending_latency: BTreeMap::new(),
        }
    }

    /// The plan.
    pub fn plan(&self) -> &LivePlan {
        &self.plan
    }

    /// Segments that follow a publisher's reconnect.
    pub fn discontinuities(&self) -> &BTreeSet<u32> {
        &self.discontinuities
    }

    /// The plan as a VOD plan of `segments` segments.
    pub fn vod_plan(&self, segments: u32) -> JobPlan {
        JobPlan {
            segments,
            renditions: self.plan.renditions.clone(),
            source: self.plan.source.clone(),
            output_prefix: self.plan.output_prefix.clone(),
            first: None,
            submitted_at_ms: None,
            subtitles: Vec::new(),
        }
    }

    /// Applies an event; `Package` means the broadcast ended and every segment is written.
    pub fn apply(&mut self, event: &JobEventKind) -> Step {
        match event {
            JobEventKind::LiveEnded { segments } => {
                let plan = self.vod_plan(*segments);
                self.assembly.apply(&JobEventKind::Planned(plan))
            }
            JobEventKind::LiveSegment(cut) => {
                if cut.discontinuity {
                    self.discontinuities.insert(cut.seq);
                }
                self.assembly.apply(&JobEventKind::Unknown)
            }
            JobEventKind::LivePlanned(_) => self.assembly.apply(&JobEventKind::Unknown),
            JobEventKind::PartDone(part) => {
                let parts = self.parts.entry(part.rendition.clone()).or_default().entry(part.seq).or_default();
                if let Err(at) = parts.binary_search_by_key(&part.part, |p| p.part) {
                    parts.insert(at, part.clone());
                }
                self.assembly.apply(&JobEventKind::Unknown)
            }
            other => self.assembly.apply(other),
        }
    }

    /// The assembly: every segment so far, failures, and the final VOD plan.
    pub fn assembly(&self) -> &JobAssembly {
        &self.assembly
    }

    /// The same, to change.
    pub fn assembly_mut(&mut self) -> &mut JobAssembly {
        &mut self.assembly
    }

    /// Segments of `name` written in an unbroken run from 0.
    fn unbroken(&self, name: &str) -> Vec<SegmentDone> {
        self.assembly
            .done_segments(name)
            .into_iter()
            .enumerate()
            .take_while(|(i, s)| s.seq as usize == *i)
            .map(|(_, s)| s)
            .collect()
    }

    /// Each rendition's latest listed part (LL-HLS rendition reports): the
    /// open segment's last part in an unbroken run, else the last whole
    /// segment's last part.
    fn positions(&self) -> Vec<(String, u32, u32)> {
        let empty = BTreeMap::new();
        self.plan
            .renditions
            .iter()
            .filter_map(|spec| {
                let name = spec.name();
                let run = self.unbroken(&name);
                let parts = self.parts.get(&name).unwrap_or(&empty);
                let open = run.last().map_or(0, |s| s.seq + 1);
                let listed = parts
                    .get(&open)
                    .map_or(0, |p| p.iter().enumerate().take_while(|(i, p)| p.part as usize == *i).count());
                match (listed, run.last()) {
                    (n, _) if n > 0 => Some((name, open, (n - 1) as u32)),
                    (_, Some(last)) => {
                        let count = parts.get(&last.seq).map_or(1, Vec::len).max(1);
                        Some((name, last.seq, (count - 1) as u32))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// Latency figures: a part counts once every rendition lists it, from
    /// the moment its source chunk was cut (about its last frame's arrival).
    fn count_listed(&mut self, newly: &[(u32, u32, u64)], now_ms: u64) {
        let renditions = self.plan.renditions.len();
        for &(seq, part, cut_at_ms) in newly {
            let entry = self.pending_latency.entry((seq, part)).or_insert((cut_at_ms, 0));
            entry.0 = entry.0.max(cut_at_ms);
            entry.1 += 1;
            if entry.1 >= renditions {
                let (cut_at_ms, _) = *entry;
                self.pending_latency.remove(&(seq, part));
                if cut_at_ms > 0 {
                    let secs = now_ms.saturating_sub(cut_at_ms) as f64 / 1000.0;
                    crate::metrics::live_part_listed(secs);
                    tracing::info!(seq, part, latency_ms = now_ms.saturating_sub(cut_at_ms), "part listed everywhere");
                }
            }
        }
        // Parts some rendition never lists (it listed the whole segment first) are let go.
        while self.pending_latency.len() > 64 {
            self.pending_latency.pop_first();
        }
    }

    /// Writes what newly written segments allow: init segments and playlists
    /// of renditions whose unbroken run grew, the master playlist once every
    /// rendition has a segment, and the dynamic MPD.
    pub async fn update(&mut self, outputs: &Store, now_ms: u64) -> Result<(), PackagerError> {
        let prefix = self.plan.output_prefix.clone();
        let key = |rel: &str| output_key(&prefix, rel);
        let window = self.plan.window.max(1) as usize;
        let mut windows: Vec<(RenditionSpec, Rendition)> = Vec::new();
        let mut grew = false;
        let mut listed_now = Vec::new();
        let positions = self.positions();
        for spec in &self.plan.renditions {
            let name = spec.name();
            let run = self.unbroken(&name);
            let listed = self.listed.get(&name).copied().unwrap_or(0) as usize;
            if run.is_empty() {
                continue;
            }
            let first_seq = run[run.len().saturating_sub(window)].seq;
            // Parts of segments that left the window are not listed again.
            if let Some(parts) = self.parts.get_mut(&name) {
                parts.retain(|&seq, _| seq >= first_seq);
            }
            let shown: Vec<SegmentDone> = run[run.len().saturating_sub(window)..].to_vec();
            let rendition = Rendition::from(spec.clone(), shown, first_seq)?;
            self.longest_secs = self.longest_secs.max(rendition.longest_segment_secs());
            let open = run.last().map_or(0, |s| s.seq + 1);
            let empty = BTreeMap::new();
            let parts = self.parts.get(&name).unwrap_or(&empty);
            let open_parts =
                parts.get(&open).map_or(0, |p| p.iter().enumerate().take_while(|(i, p)| p.part as usize == *i).count());
            let run_len = u32::try_from(run.len()).unwrap_or(u32::MAX);
            let parts_grew = self.plan.part_secs.is_some()
                && self
                    .listed_parts
                    .get(&name)
                    .is_none_or(|&(segments, listed)| (segments, listed) != (run_len, open_parts));
            if run.len() > listed || parts_grew {
                if listed == 0 {
                    let init = init_of(&rendition)?;
                    outputs.put(&key(&format!("{name}/init.mp4")), Bytes::from(init)).await?;
                }
                let reports: Vec<(String, u32, u32)> = positions.iter().filter(|p| p.0 != name).cloned().collect();
                let low_latency =
                    self.plan.part_secs.map(|part_secs| LowLatency { part_secs, parts, reports: &reports });
                let playlist = live_media_playlist(
                    &rendition,
                    self.plan.started_at_ms,
                    self.plan.target_duration_secs.max(self.longest_secs),
                    &self.discontinuities,
                    low_latency,
                );
                outputs.put(&key(&format!("{name}/index.m3u8")), Bytes::from(playlist)).await?;
                crate::metrics::live_playlist_updated();
                if self.plan.part_secs.is_some() {
                    let newly: Vec<(u32, u32, u64)> = parts
                        .get(&open)
                        .map(|p| {
                            let before = self.listed_parts.get(&name).filter(|l| l.0 == run_len).map_or(0, |l| l.1);
                            p[before.min(open_parts)..open_parts]
                                .iter()
                                .map(|p| (p.seq, p.part, p.source_cut_at_ms))
                                .collect()
                        })
                        .unwrap_or_default();
                    self.listed_parts.insert(name.clone(), (run_len, open_parts));
                    listed_now.extend(newly);
                }
                grew |= run.len() > listed;
                self.listed.insert(name, run_len);
            }
            windows.push((spec.clone(), rendition));
        }
        self.count_listed(&listed_now, now_ms);
        // Only segments change the master playlist and the MPD.
        if windows.len() < self.plan.renditions.len() || !grew {
            return Ok(());
        }
        let videos: Vec<&Rendition> =
            windows.iter().filter(|(s, _)| matches!(s, RenditionSpec::Video { .. })).map(|(_, r)| r).collect();
        let audios: Vec<&Rendition> =
            windows.iter().filter(|(s, _)| matches!(s, RenditionSpec::Audio { .. })).map(|(_, r)| r).collect();
        if !self.master_written {
            outputs.put(&key("master.m3u8"), Bytes::from(master_playlist(&videos, &audios, &[]))).await?;
            self.master_written = true;
        }
        let timing = LiveTiming {
            started_at_ms: self.plan.started_at_ms,
            published_at_ms: now_ms,
            target_secs: self.plan.target_duration_secs.max(self.longest_secs),
            window: self.plan.window,
            part_secs: self.plan.part_secs,
        };
        outputs.put(&key("manifest.mpd"), Bytes::from(dynamic_mpd(&videos, &audios, timing))).await?;
        Ok(())
    }
}
