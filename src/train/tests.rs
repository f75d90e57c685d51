//! Tests of the objective, the data pipeline and exact resume, on tiny models.

use std::sync::atomic::{AtomicBool, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::Result;
use crate::audio::augment::{AugmentConfig, Augmenter};
use crate::audio::{N_MELS, SEGMENT_FRAMES};
use crate::autograd::gradcheck::{self, GradCheck};
use crate::model::{Model, ModelConfig};
use crate::tensor::Tensor;
use crate::train::checkpoint;
use crate::train::data::{
    BatchConfig, BatchMaker, Corpus, HARD_SHIFT, Holdout, Track, WINDOW, far_start, hard_start,
};
use crate::train::objective::{ObjectiveConfig, PairBatch, assign, encode, loss};
use crate::train::sinkhorn::HashQueue;
use crate::train::trainer::{Observer, StepStats, TrainConfig, Trainer, run};

/// Tiny widths over the real front-end's segment (64 bands × 100 frames), for runs on
/// generated audio.
fn tiny_full() -> ModelConfig {
    ModelConfig {
        d_model: 8,
        layers: 1,
        heads: 2,
        d_ff: 12,
        proj_hidden: 12,
        emb_dim: 8,
        hash_hidden: 8,
        k_bits: 8,
        ..ModelConfig::SMALL
    }
}

/// Tiny everything (as in the model tests): 4 bands × 20 frames.
fn tiny() -> ModelConfig {
    ModelConfig {
        layers: 1,
        ..ModelConfig::TINY
    }
}

fn unit_rows(n: usize, k: usize, rng: &mut StdRng) -> Vec<f32> {
    let mut v: Vec<f32> = (0..n * k).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    for row in v.chunks_exact_mut(k) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[test]
fn objective_passes_gradcheck_end_to_end() {
    let cfg = tiny();
    let mut model = Model::new(cfg, 3);
    // Keep ReLU inputs off their kinks, as the encoder's own check does.
    let mut names: Vec<String> = (0..cfg.layers)
        .map(|i| format!("encoder.layers.{i}.ffn.fc1.bias"))
        .collect();
    names.extend(["proj.norm1.bias".to_string(), "hash.norm.bias".to_string()]);
    for name in names {
        let id = model.params.id(&name).unwrap();
        let n = model.params.shape(id)[0];
        *model.params.value_mut(id) =
            Tensor::from_fn(&[n], |i| if i % 2 == 0 { 4.0 } else { -4.0 });
    }
    let mut rng = StdRng::seed_from_u64(11);
    let len = cfg.segment_len();
    let mut segs = |n: usize| {
        Tensor::new(
            &[n, len],
            (0..n * len)
                .map(|_| rng.random_range(-3.0f32..0.5))
                .collect(),
        )
    };
    let batch = PairBatch {
        anchors: segs(3),
        positives: segs(3),
        hard: segs(2),
    };
    let mut queue = HashQueue::new(cfg.k_bits, 16);
    queue.push(&unit_rows(16, cfg.k_bits, &mut StdRng::seed_from_u64(12)));
    let obj = ObjectiveConfig {
        lambda_h: 0.7,
        lambda_r: 1.3,
        ..ObjectiveConfig::default()
    };
    // k* is piecewise constant in the parameters: fix it at the unperturbed point.
    let targets = {
        let mut tape = crate::autograd::Tape::no_grad();
        assign(
            &encode(&mut tape, &model.encoder, &model.params, &batch),
            &queue,
            &obj.sinkhorn,
        )
    };
    let encoder = model.encoder.clone();
    let report = gradcheck::check_params(
        &mut model.params,
        |tape, store| {
            let encoded = encode(tape, &encoder, store, &batch);
            loss(tape, &encoded, &targets, &obj).0
        },
        &GradCheck {
            step: 3e-2,
            max_elements: 4,
            skip_kinks: true,
            ..GradCheck::default()
        },
    );
    report.assert_ok("objective", 0.1);
    assert!(
        report.checked > 50,
        "only {} elements checked",
        report.checked
    );
}

#[test]
fn objective_parts_add_up_with_their_weights() {
    let cfg = tiny();
    let model = Model::new(cfg, 4);
    let mut rng = StdRng::seed_from_u64(5);
    let len = cfg.segment_len();
    let mut segs = |n: usize| {
        Tensor::new(
            &[n, len],
            (0..n * len)
                .map(|_| rng.random_range(-3.0f32..0.5))
                .collect(),
        )
    };
    let batch = PairBatch {
        anchors: segs(4),
        positives: segs(4),
        hard: segs(0),
    };
    let obj = ObjectiveConfig {
        lambda_h: 0.5,
        lambda_r: 2.0,
        ..ObjectiveConfig::default()
    };
    let mut tape = crate::autograd::Tape::new();
    let encoded = encode(&mut tape, &model.encoder, &model.params, &batch);
    let (l, parts) = loss(&mut tape, &encoded, &[0, 1, 2, 3], &obj);
    let expect = parts.l_c + 0.5 * parts.l_h + 2.0 * parts.l_r;
    assert!(
        (l.item() - expect).abs() <= 1e-5 * expect.abs(),
        "{} vs {expect}",
        l.item()
    );
    assert!(
        parts.l_c > 0.0 && parts.l_h > 0.0 && parts.l_r > 0.0,
        "{parts:?}"
    );
}

/// `n` generated tracks of 2 s: chords of partials with a decaying envelope per note, the
/// second half of the first one silent.
fn generated_tracks(n: usize, seed: u64) -> Vec<Track> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|t| {
            let f: Vec<f32> = (0..3).map(|_| rng.random_range(100.0f32..2000.0)).collect();
            let samples = (0..2 * WINDOW)
                .map(|i| {
                    let s = i as f32 / WINDOW as f32;
                    if t == 0 && s >= 1.0 {
                        return 0.0;
                    }
                    let env = (-(s * 8.0).fract() * 3.0).exp();
                    env * f
                        .iter()
                        .map(|f| (std::f32::consts::TAU * f * s).sin())
                        .sum::<f32>()
                        + rng.random_range(-0.01f32..0.01)
                })
                .collect();
            Track::new(format!("dir/track{t}.wav"), samples).unwrap()
        })
        .collect()
}

fn small_augmenter() -> Augmenter {
    let config = AugmentConfig {
        generated_rirs: 2,
        generated_noises_per_kind: 1,
        generated_noise_s: 2.0,
        ..AugmentConfig::default()
    };
    Augmenter::new(config, Vec::new(), Vec::new(), 1).unwrap()
}

fn maker(pairs: usize, hard_negatives: bool, seed: u64) -> BatchMaker {
    BatchMaker::new(
        generated_tracks(3, 20),
        small_augmenter(),
        BatchConfig {
            pairs,
            hard_negatives,
            hard_shift: HARD_SHIFT,
            far_share: 0.0,
            seed,
        },
    )
}

#[test]
fn batches_are_a_function_of_seed_and_step() {
    let m = maker(2, true, 7);
    let a = m.make(3);
    assert_eq!(a.anchors.shape(), &[2, SEGMENT_FRAMES * N_MELS]);
    assert_eq!(a.hard.shape(), &[2, SEGMENT_FRAMES * N_MELS]);
    assert_eq!(a, m.make(3));
    assert_ne!(a, m.make(4));
    assert_ne!(a, maker(2, true, 8).make(3));
    assert!(
        a.anchors
            .data()
            .iter()
            .chain(a.positives.data())
            .all(|v| v.is_finite())
    );
    assert_eq!(
        maker(2, false, 7).make(3).hard.shape(),
        &[0, SEGMENT_FRAMES * N_MELS]
    );
}

/// Draws a negative with `draw` (which checks its own distance rule) for 400 random
/// anchors of a `len`-sample track that leaves room on at least one side of each: every
/// negative must fit in the track, and both sides must occur often.
fn assert_negatives_fit_both_sides(
    len: usize,
    rng: &mut StdRng,
    mut draw: impl FnMut(usize, &mut StdRng) -> Option<usize>,
) {
    let (mut earlier, mut later) = (0, 0);
    for _ in 0..400 {
        let start = rng.random_range(0..=len - WINDOW);
        let n = draw(start, rng).expect("the track leaves room on one side");
        assert!(n + WINDOW <= len, "the negative at {n} runs past the end");
        if n < start { earlier += 1 } else { later += 1 }
    }
    assert!(
        earlier > 100 && later > 100,
        "{earlier} earlier, {later} later"
    );
}

#[test]
fn hard_negatives_are_shifted_within_the_configured_range() {
    let mut rng = StdRng::seed_from_u64(3);
    let (len, range) = (10 * WINDOW, (960, 2400));
    assert_negatives_fit_both_sides(len, &mut rng, |start, rng| {
        let h = hard_start(len, start, range, rng);
        let shift = h.map(|h| h.abs_diff(start));
        assert!(
            shift.is_some_and(|s| (range.0..=range.1).contains(&s)),
            "shift {shift:?} outside {range:?}"
        );
        h
    });
    // Near either end only the other direction fits; a track too short for both fails.
    assert_eq!(hard_start(len, 0, (960, 960), &mut rng), Some(960));
    assert_eq!(
        hard_start(len, len - WINDOW, (960, 960), &mut rng),
        Some(len - WINDOW - 960)
    );
    assert_eq!(hard_start(WINDOW + 500, 200, (960, 960), &mut rng), None);
}

#[test]
fn far_negatives_never_overlap_the_anchor_and_cover_both_sides() {
    let mut rng = StdRng::seed_from_u64(4);
    assert_negatives_fit_both_sides(10 * WINDOW + 123, &mut rng, |start, rng| {
        let f = far_start(10 * WINDOW + 123, start, rng);
        assert!(
            f.is_some_and(|f| f.abs_diff(start) >= WINDOW),
            "{f:?} overlaps the window at {start}"
        );
        f
    });
    // The extremes are reachable and nothing beyond them; a track under 2 s has none.
    let range = |len: usize, start: usize, rng: &mut StdRng| {
        let drawn: Vec<usize> = (0..500)
            .map(|_| far_start(len, start, rng).unwrap())
            .collect();
        (*drawn.iter().min().unwrap(), *drawn.iter().max().unwrap())
    };
    let len = 2 * WINDOW + 10;
    assert_eq!(range(len, 5, &mut rng), (WINDOW + 5, WINDOW + 10));
    assert_eq!(range(len, WINDOW + 8, &mut rng), (0, 8));
    assert_eq!(far_start(2 * WINDOW - 1, 0, &mut rng), None);
    assert_eq!(far_start(2 * WINDOW, 0, &mut rng), Some(WINDOW));
    assert_eq!(far_start(WINDOW - 1, 0, &mut rng), None);
}

#[test]
fn far_negatives_change_only_the_hard_rows() {
    let config = |far_share| BatchConfig {
        pairs: 1,
        hard_negatives: true,
        hard_shift: HARD_SHIFT,
        far_share,
        seed: 5,
    };
    // 6 s rising chirps: every window sounds different, and every start has a far one.
    let tracks = || {
        (0..2)
            .map(|t| {
                let samples = (0..6 * WINDOW)
                    .map(|i| {
                        let s = i as f32 / WINDOW as f32;
                        (std::f32::consts::TAU * (200.0 + 100.0 * t as f32 + 40.0 * s) * s).sin()
                    })
                    .collect();
                Track::new(format!("chirp{t}"), samples).unwrap()
            })
            .collect::<Vec<_>>()
    };
    let near = BatchMaker::new(tracks(), small_augmenter(), config(0.0)).make(1);
    let far = BatchMaker::new(tracks(), small_augmenter(), config(1.0)).make(1);
    // One pair: its anchor and positive are drawn before the hard negative, so they match.
    assert_eq!(far.anchors.data(), near.anchors.data());
    assert_eq!(far.positives.data(), near.positives.data());
    assert_eq!(far.hard.shape(), near.hard.shape());
    assert_ne!(far.hard.data(), near.hard.data());
    assert!(far.hard.data().iter().all(|v| v.is_finite()));
}

/// A one-pair maker with hard negatives at `hard_shift` and `far_share` of them far.
fn hard_maker(hard_shift: (usize, usize), far_share: f32) -> BatchMaker {
    BatchMaker::new(
        generated_tracks(1, 20),
        small_augmenter(),
        BatchConfig {
            pairs: 1,
            hard_negatives: true,
            hard_shift,
            far_share,
            seed: 1,
        },
    )
}

#[test]
#[should_panic(expected = "far negative share")]
fn a_far_share_above_one_is_refused() {
    hard_maker(HARD_SHIFT, 1.5);
}

#[test]
#[should_panic(expected = "hard negative shift")]
fn hard_shift_beyond_the_track_margin_is_refused() {
    hard_maker((HARD_SHIFT.0, HARD_SHIFT.1 + 1), 0.0);
}

#[test]
fn silent_windows_are_never_drawn() {
    // 2 s of near-silence (−80 dB) then 1 s of a loud tone: an audible window must overlap
    // the tone by more than 1e-4 / ½ of a second (3.2 samples), so it starts after 1 s.
    let samples = (0..3 * WINDOW)
        .map(|i| {
            if i < 2 * WINDOW {
                1e-4
            } else {
                (i as f32 * 0.3).sin()
            }
        })
        .collect();
    let m = BatchMaker::new(
        vec![Track::new("t", samples).unwrap()],
        small_augmenter(),
        BatchConfig {
            pairs: 1,
            hard_negatives: false,
            hard_shift: HARD_SHIFT,
            far_share: 0.0,
            seed: 1,
        },
    );
    let mut rng = StdRng::seed_from_u64(2);
    for _ in 0..200 {
        let (_, start) = m.draw_audible(&mut rng);
        assert!(start > WINDOW + 3, "a silent window at {start} was drawn");
    }
}

#[test]
fn holdout_is_deterministic_and_checks_names() {
    let tracks = generated_tracks(4, 3);
    let a = Corpus::split(tracks.clone(), &Holdout::Count(1)).unwrap();
    let b = Corpus::split(tracks.iter().rev().cloned().collect(), &Holdout::Count(1)).unwrap();
    assert_eq!((a.train.len(), a.holdout.len()), (3, 1));
    assert_eq!(
        a.holdout[0].name, b.holdout[0].name,
        "hold-out depends on the listing order"
    );
    let named = Corpus::split(tracks.clone(), &Holdout::Names(vec!["track2.wav".into()])).unwrap();
    assert_eq!(named.holdout[0].name, "dir/track2.wav");
    let by_stem = Corpus::split(tracks.clone(), &Holdout::Names(vec!["track1".into()])).unwrap();
    assert_eq!(by_stem.holdout[0].name, "dir/track1.wav");
    assert!(Corpus::split(tracks.clone(), &Holdout::Names(vec!["nope.wav".into()])).is_err());
    assert!(
        Corpus::split(tracks, &Holdout::Count(4)).is_err(),
        "nothing left to train on"
    );
    assert!(
        Track::new("quiet", vec![1e-4; 3 * WINDOW]).is_none(),
        "−80 dBFS track kept"
    );
}

/// Records every step's stats, checkpoints to a path, and raises `stop` after `stop_at`.
struct Recorder<'a> {
    losses: Vec<f32>,
    checkpoint: std::path::PathBuf,
    stop_at: u64,
    stop: &'a AtomicBool,
}

impl Observer for Recorder<'_> {
    fn on_step(&mut self, _: &Trainer, stats: &StepStats) -> Result<()> {
        self.losses.push(stats.losses.total);
        if stats.step == self.stop_at {
            self.stop.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
    fn on_checkpoint(&mut self, trainer: &Trainer) -> Result<()> {
        checkpoint::save(trainer, &self.checkpoint)
    }
}

fn params_of(model: &Model) -> Vec<(String, Vec<u32>)> {
    model
        .params
        .export()
        .map(|(n, _, d)| (n.to_string(), d.iter().map(|v| v.to_bits()).collect()))
        .collect()
}

#[test]
fn resumed_run_ends_bit_identical_to_an_unbroken_run() {
    let dir = crate::test_dir::TempDir::new("train");
    let m = maker(2, true, 9);
    let mut config = TrainConfig::new(5, 9);
    config.queue = 4; // small enough to wrap around during the run
    config.lr = 1e-2;

    let never = AtomicBool::new(false);
    let mut whole = Trainer::new(Model::new(tiny_full(), 1), config);
    let mut rec = Recorder {
        losses: vec![],
        checkpoint: dir.join("whole.ckpt"),
        stop_at: 0,
        stop: &never,
    };
    assert_eq!(run(&mut whole, &m, 0, &never, &mut rec).unwrap(), 5);
    let whole_losses = rec.losses;

    let stop = AtomicBool::new(false);
    let mut first = Trainer::new(Model::new(tiny_full(), 1), config);
    let ckpt = dir.join("part.ckpt");
    let mut rec = Recorder {
        losses: vec![],
        checkpoint: ckpt.clone(),
        stop_at: 3,
        stop: &stop,
    };
    assert_eq!(run(&mut first, &m, 0, &stop, &mut rec).unwrap(), 3);
    let mut losses = rec.losses;
    drop(first);

    let mut resumed = checkpoint::load(&ckpt, config).unwrap();
    assert_eq!(resumed.step, 3);
    let mut rec = Recorder {
        losses: vec![],
        checkpoint: ckpt.clone(),
        stop_at: 0,
        stop: &never,
    };
    assert_eq!(run(&mut resumed, &m, 0, &never, &mut rec).unwrap(), 2);
    losses.extend(rec.losses);

    assert_eq!(losses, whole_losses);
    assert!(
        params_of(&resumed.model) == params_of(&whole.model),
        "weights differ after resume"
    );
    assert_eq!(resumed.queue.rows(), whole.queue.rows());
    let mut other_seed = config;
    other_seed.seed = 10;
    assert!(
        checkpoint::load(&ckpt, other_seed).is_err(),
        "a checkpoint of another seed was accepted"
    );
}

#[test]
fn keeping_freed_memory_is_accepted_by_glibc() {
    // Where it applies, both settings must be accepted (mallopt returns 1); elsewhere the
    // call reports that it did nothing.
    let applies = cfg!(all(target_os = "linux", target_env = "gnu"));
    assert_eq!(super::keep_freed_memory(), applies);
}
