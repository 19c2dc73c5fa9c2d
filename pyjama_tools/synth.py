"""The embedded synthetic corpus: scores, additive rendering, and a normal .hdf5 + .pyjama pair.

No download is possible on a first run or in CI, so the toolkit ships this generator of a
small, musically meaningful corpus. Each file is a short piece in a random key: a chord
progression (diatonic triads, 1–2 s each) voiced by 1–4 voices (bass, tenor, alto, soprano)
in realistic ranges, whose rhythm depends on the piece's *style*. Every voice is rendered by
additive synthesis with one of several instrument timbres (harmonic profile, envelope, slight
inharmonicity and vibrato), without reverb, plus low noise.

Annotations give every task type data: ``pitchmidi`` (note segments, MIDI), ``f0multi``
(breakpoints, 4 rows soprano/alto/tenor/bass in MIDI, 0 = silent, 10 ms hop), ``instrument``
(multi-label tags), ``style`` (one class per file), ``chord`` (Harte segments, maj/min triads).
Deterministic for a seed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import librosa
import numpy as np

from pyjama_tools import pyjama
from pyjama_tools.core.atomic import atomic_group
from pyjama_tools.core.errors import MirError, ParameterError
from pyjama_tools.core.locking import output_lock
from pyjama_tools.core.registry import Registry

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
VOICES = ("soprano", "alto", "tenor", "bass")
#: MIDI range (lowest, highest) of each voice
VOICE_RANGES = {"soprano": (60, 81), "alto": (53, 74), "tenor": (46, 67), "bass": (36, 58)}
#: diatonic triads of a major key: (degree offset in semitones, quality)
DIATONIC = ((0, "maj"), (2, "min"), (4, "min"), (5, "maj"), (7, "maj"), (9, "min"))
F0_HOP_SEC = 0.01


@dataclass(frozen=True)
class Timbre:
    """An instrument's sound.

    Attributes
    ----------
    name : the tag written in ``instrument``
    rolloff : harmonic amplitude ∝ k ** -rolloff
    odd_only : keep odd harmonics only (clarinet-like)
    attack_sec, release_sec : envelope ramps in s
    decay_per_sec : exponential decay rate (1/s) of the sustained part (0 = steady)
    inharmonicity : B in f_k = k f0 sqrt(1 + B k^2)
    vibrato_cents, vibrato_hz : vibrato depth (cents) and rate (Hz)
    """

    name: str
    rolloff: float
    odd_only: bool = False
    attack_sec: float = 0.02
    release_sec: float = 0.05
    decay_per_sec: float = 0.0
    inharmonicity: float = 0.0
    vibrato_cents: float = 0.0
    vibrato_hz: float = 5.0


TIMBRES = {
    t.name: t for t in (
        Timbre("flute", rolloff=2.5, attack_sec=0.05, vibrato_cents=12, vibrato_hz=5.0),
        Timbre("clarinet", rolloff=1.2, odd_only=True, attack_sec=0.03),
        Timbre("strings", rolloff=1.0, attack_sec=0.08, release_sec=0.1, vibrato_cents=18, vibrato_hz=5.5),
        Timbre("organ", rolloff=0.8, attack_sec=0.01, release_sec=0.02),
        Timbre("piano", rolloff=1.5, attack_sec=0.005, release_sec=0.08, decay_per_sec=2.5, inharmonicity=4e-4),
        Timbre("guitar", rolloff=1.8, attack_sec=0.003, release_sec=0.05, decay_per_sec=4.0, inharmonicity=1e-4),
    )
}


@dataclass(frozen=True)
class Style:
    """A style: which voices play and how (note durations in beats).

    Attributes
    ----------
    name : the class written in ``style``
    voices : voice names that play (a random non-empty subset of at least ``min_voices`` is drawn)
    min_voices : fewest voices
    beats : note durations (in beats) drawn for each voice
    """

    name: str
    voices: tuple[str, ...]
    min_voices: int
    beats: tuple[float, ...]


STYLES = {
    s.name: s for s in (
        Style("chorale", VOICES, 3, (1.0, 2.0)),
        Style("arpeggio", ("soprano", "alto", "bass"), 1, (0.25, 0.5)),
        Style("duet", ("soprano", "tenor"), 2, (0.5, 1.0, 1.5)),
        Style("solo", ("soprano", "alto", "tenor"), 1, (0.5, 0.75, 1.0)),
    )
}


@dataclass(frozen=True)
class SynthParams:
    """Parameters of the synthetic corpus.

    Attributes
    ----------
    files : number of files (default 40)
    seconds_per_file : duration of each file in s (default 15; 40 × 15 s = 10 min)
    seed : random seed (same seed, same corpus)
    sample_rate : Hz (default 22050, the tutorial's)
    noise_db : level of the white noise relative to full scale, dB
    """

    files: int = 40
    seconds_per_file: float = 15.0
    seed: int = 0
    sample_rate: int = 22050
    noise_db: float = -50.0

    def __post_init__(self) -> None:
        if self.files < 1:
            raise ParameterError(f"files={self.files}: must be >= 1")
        if not 2.0 <= self.seconds_per_file <= 600:
            raise ParameterError(f"seconds_per_file={self.seconds_per_file}: must be in [2, 600] s")
        if self.sample_rate < 8000:
            raise ParameterError(f"sample_rate={self.sample_rate}: must be >= 8000 Hz")


@dataclass
class Note:
    """One note: onset and duration in s, MIDI pitch, voice and timbre names, velocity in [0, 1], vibrato phase (rad)."""

    onset: float
    duration: float
    pitch: int
    voice: str
    timbre: str
    velocity: float
    phase: float = 0.0


@dataclass
class Score:
    """One piece: its notes, chord segments (onset, duration, Harte label), style and duration (s)."""

    notes: list[Note] = field(default_factory=list)
    chords: list[tuple[float, float, str]] = field(default_factory=list)
    style: str = ""
    duration: float = 0.0

    @property
    def instruments(self) -> list[str]:
        return sorted({n.timbre for n in self.notes})


def _chord_pitch_classes(root: int, quality: str) -> tuple[int, int, int]:
    third = 4 if quality == "maj" else 3
    return root % 12, (root + third) % 12, (root + 7) % 12


def _pitch_in_range(rng: np.random.Generator, pitch_classes: tuple[int, ...], low: int, high: int,
                    previous: int | None) -> int:
    """A pitch of one of ``pitch_classes`` in [low, high], close to ``previous`` (smooth voice leading)."""
    candidates = np.array([p for p in range(low, high + 1) if p % 12 in pitch_classes])
    if previous is None:
        return int(rng.choice(candidates))
    distance = np.abs(candidates - previous)
    weights = np.exp(-distance / 3.0)
    return int(rng.choice(candidates, p=weights / weights.sum()))


def make_score(rng: np.random.Generator, duration: float) -> Score:
    """A random piece of ``duration`` seconds (see the module docstring)."""
    style = STYLES[rng.choice(sorted(STYLES))]
    tempo_bpm = rng.uniform(70, 130)
    beat = 60.0 / tempo_bpm
    key = int(rng.integers(12))
    count = int(rng.integers(style.min_voices, len(style.voices) + 1))
    voices = sorted(rng.choice(style.voices, size=count, replace=False), key=VOICES.index)
    timbres = {v: str(rng.choice(sorted(TIMBRES))) for v in voices}
    score = Score(style=style.name, duration=duration)
    # chord progression: starts on the tonic, 2 or 4 beats per chord
    time = 0.0
    degree = 0
    while time < duration - 0.5:
        length = min(beat * float(rng.choice([2, 4])), duration - time)
        offset, quality = DIATONIC[degree]
        root = (key + offset) % 12
        score.chords.append((time, length, f"{PITCH_NAMES[root]}:{quality}"))
        time += length
        degree = int(rng.integers(len(DIATONIC)))
    # voices: chord tones, rests now and then, smooth voice leading
    for voice in voices:
        low, high = VOICE_RANGES[voice]
        previous = None
        time = float(rng.uniform(0, beat / 2)) if style.name != "chorale" else 0.0
        while time < duration - 0.2:
            length = beat * float(rng.choice(style.beats))
            if rng.random() < 0.12:  # a rest
                time += length
                continue
            chord = next((c for c in score.chords if c[0] <= time < c[0] + c[1]), score.chords[-1])
            root_name, quality = chord[2].split(":")
            classes = _chord_pitch_classes(PITCH_NAMES.index(root_name), quality)
            pitch = _pitch_in_range(rng, classes, low, high, previous)
            previous = pitch
            note_length = min(length * rng.uniform(0.8, 0.98), duration - time)
            score.notes.append(Note(time, note_length, pitch, voice, timbres[voice], float(rng.uniform(0.5, 1.0)),
                                    float(rng.uniform(0, 2 * np.pi))))
            time += length
    if not score.notes:  # every voice rested: give the first voice one long chord tone
        low, high = VOICE_RANGES[voices[0]]
        root_name, quality = score.chords[0][2].split(":")
        pitch = _pitch_in_range(rng, _chord_pitch_classes(PITCH_NAMES.index(root_name), quality), low, high, None)
        score.notes.append(Note(0.0, duration * 0.9, pitch, voices[0], timbres[voices[0]], 0.8))
    return score


def _vibrato_cents(timbre: Timbre, t: np.ndarray, phase: float) -> np.ndarray:
    if timbre.vibrato_cents == 0:
        return np.zeros_like(t)
    # vibrato fades in over 0.2 s, as a player's does
    return timbre.vibrato_cents * np.minimum(t / 0.2, 1.0) * np.sin(2 * np.pi * timbre.vibrato_hz * t + phase)


def render_note(note: Note, timbre: Timbre, sample_rate: int) -> np.ndarray:
    """Samples of one note (additive synthesis), including its release tail."""
    phase = note.phase
    total = note.duration + timbre.release_sec
    t = np.arange(int(total * sample_rate), dtype=np.float64) / sample_rate
    f0 = librosa.midi_to_hz(note.pitch) * 2.0 ** (_vibrato_cents(timbre, t, phase) / 1200.0)
    nyquist = sample_rate / 2
    harmonics = np.arange(1, 31)
    if timbre.odd_only:
        harmonics = harmonics[harmonics % 2 == 1]
    stretch = np.sqrt(1.0 + timbre.inharmonicity * harmonics ** 2)
    harmonics = harmonics[harmonics * stretch * librosa.midi_to_hz(note.pitch) < 0.9 * nyquist]
    stretch = np.sqrt(1.0 + timbre.inharmonicity * harmonics ** 2)
    amplitudes = harmonics ** -timbre.rolloff
    amplitudes = amplitudes / amplitudes.sum()
    base_phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    signal = np.zeros_like(t)
    for k, stretch_k, amp in zip(harmonics, stretch, amplitudes):
        # higher partials decay faster on struck/plucked strings
        decay = np.exp(-timbre.decay_per_sec * (1 + 0.15 * (k - 1)) * t) if timbre.decay_per_sec else 1.0
        signal += amp * decay * np.sin(k * stretch_k * base_phase + phase * k)
    attack = np.clip(t / max(timbre.attack_sec, 1e-3), 0, 1)
    release = np.clip((total - t) / max(timbre.release_sec, 1e-3), 0, 1)
    return (note.velocity * attack * release * signal).astype(np.float32)


def render_additive(score: Score, sample_rate: int, rng: np.random.Generator, noise_db: float) -> np.ndarray:
    """The score rendered by additive synthesis, normalised to a peak of 0.8, plus white noise."""
    length = int(score.duration * sample_rate)
    audio = np.zeros(length + sample_rate, dtype=np.float32)
    for note in score.notes:
        samples = render_note(note, TIMBRES[note.timbre], sample_rate)
        start = int(round(note.onset * sample_rate))
        audio[start:start + len(samples)] += samples[: len(audio) - start]
    audio = audio[:length]
    peak = float(np.max(np.abs(audio))) or 1.0
    audio *= 0.8 / peak
    audio += (10 ** (noise_db / 20) * rng.standard_normal(length)).astype(np.float32)
    return audio


#: General MIDI programs used by the FluidSynth renderer for each timbre
GM_PROGRAMS = {"flute": 73, "clarinet": 71, "strings": 48, "organ": 19, "piano": 0, "guitar": 24}


def render_fluidsynth(score: Score, sample_rate: int, rng: np.random.Generator, noise_db: float) -> np.ndarray:
    """The same score rendered with sampled instruments (pretty_midi's soundfont + FluidSynth).

    Raises
    ------
    MirError
        When pretty_midi or a FluidSynth library is not installed.
    """
    try:
        import pretty_midi
        midi = pretty_midi.PrettyMIDI()
        for timbre in score.instruments:
            instrument = pretty_midi.Instrument(program=GM_PROGRAMS[timbre], name=timbre)
            for note in score.notes:
                if note.timbre == timbre:
                    instrument.notes.append(pretty_midi.Note(int(note.velocity * 110), note.pitch, note.onset,
                                                             note.onset + note.duration))
            midi.instruments.append(instrument)
        audio = midi.fluidsynth(fs=sample_rate)
    except (ImportError, AttributeError, OSError, ValueError) as error:
        raise MirError(f"--renderer fluidsynth needs pretty_midi and a FluidSynth library ({error})") from None
    length = int(score.duration * sample_rate)
    audio = np.pad(audio, (0, max(0, length - len(audio))))[:length].astype(np.float32)
    peak = float(np.max(np.abs(audio))) or 1.0
    return audio * (0.8 / peak) + (10 ** (noise_db / 20) * rng.standard_normal(length)).astype(np.float32)


#: how a score becomes audio (``generate(renderer=...)``, ``--renderer``)
RENDERERS: Registry = Registry("renderer", error=ParameterError)
RENDERERS.add("additive", render_additive)
RENDERERS.add("fluidsynth", render_fluidsynth)


def f0_matrix(score: Score) -> tuple[np.ndarray, np.ndarray]:
    """The f0 of each voice on a 10 ms grid: times (N,) in s and MIDI (4, N), 0 = silent.

    Rows follow :data:`VOICES` (soprano, alto, tenor, bass). Vibrato is included: the
    annotation follows the rendered f0, as a real f0 annotation does.
    """
    times = np.arange(0.0, score.duration, F0_HOP_SEC)
    matrix = np.zeros((len(VOICES), len(times)))
    for note in score.notes:
        timbre = TIMBRES[note.timbre]
        active = (times >= note.onset) & (times < note.onset + note.duration)
        if not active.any():
            continue
        t = times[active] - note.onset
        matrix[VOICES.index(note.voice), active] = note.pitch + _vibrato_cents(timbre, t, note.phase) / 100.0
    return times, matrix


def annotations(score: Score) -> dict[str, list[dict]]:
    """The .pyjama fields of one score."""
    notes = sorted(score.notes, key=lambda n: (n.onset, n.pitch))
    times, f0 = f0_matrix(score)
    return {
        "pitchmidi": pyjama.segment_atoms([n.onset for n in notes], [n.duration for n in notes],
                                          [n.pitch for n in notes]),
        "f0multi": [pyjama.breakpoint_atom(np.round(times, 6), f0)],
        "instrument": pyjama.global_atoms(score.instruments),
        "style": [pyjama.atom(score.style)],
        "chord": pyjama.segment_atoms([c[0] for c in score.chords], [c[1] for c in score.chords],
                                      [c[2] for c in score.chords]),
    }


def definitions() -> dict[str, pyjama.FieldDefinition]:
    """Field definitions of the synthetic corpus."""
    chords = [f"{p}:{q}" for q in ("maj", "min") for p in PITCH_NAMES]
    return {
        "pitchmidi": pyjama.FieldDefinition("segment", "numeric", "free"),
        "f0multi": pyjama.FieldDefinition("breakpoint", "numeric", "free", row_name=list(VOICES)),
        "instrument": pyjama.FieldDefinition("global", "text", "value_in_dictionary", sorted(TIMBRES)),
        "style": pyjama.FieldDefinition("global", "text", "value_in_dictionary", sorted(STYLES)),
        "chord": pyjama.FieldDefinition("segment", "text", "value_in_dictionary", chords),
    }


def _render_file(index: int, params: SynthParams, renderer: str) -> tuple[str, np.ndarray, dict]:
    # one independent stream per file: the corpus does not depend on the number of jobs
    rng = np.random.default_rng([params.seed, index])
    score = make_score(rng, params.seconds_per_file)
    audio = RENDERERS.lookup(renderer)(score, params.sample_rate, rng, params.noise_db)
    return f"synth_{index:03d}.wav", audio, annotations(score)


def generate(out_dir: str | os.PathLike, params: SynthParams = SynthParams(), name: str = "synth",
             renderer: str = "additive", jobs: int = 1, overwrite: bool = False,
             quiet: bool = True) -> tuple[Path, Path]:
    """Write the synthetic corpus as ``OUT_DIR/NAME_audio.hdf5`` + ``OUT_DIR/NAME.pyjama``.

    Parameters
    ----------
    out_dir : output folder (created when missing)
    params : corpus size and seed
    name : base name of the pair
    renderer : ``additive`` (default) or ``fluidsynth`` (sampled instruments, when installed)
    jobs : parallel processes
    overwrite : replace an existing pair
    quiet : no progress bar

    Returns
    -------
    (pyjama_path, audio_path)
    """
    import h5py
    from joblib import Parallel, delayed
    from tqdm import tqdm

    RENDERERS.lookup(renderer)  # an unknown name: one line with a suggestion, before any output
    from pyjama_tools.convert import check_base_name, make_output_folder

    out_dir = Path(out_dir)
    name = check_base_name(name)
    pyjama_path, audio_path = out_dir / f"{name}.pyjama", out_dir / f"{name}_audio.hdf5"
    for path in (pyjama_path, audio_path):
        if path.exists() and not overwrite:
            raise MirError(f"{path}: already exists (use --overwrite to replace it)")
    make_output_folder(out_dir)
    group = [audio_path, pyjama_path]  # the .pyjama last: its presence marks a complete pair
    # one writer per output; the old pair stays until the new one is complete (as pyjama-convert)
    with output_lock(pyjama_path, "pyjama-convert synth"), atomic_group(group) as (audio_tmp, pyjama_tmp):
        doc = pyjama.PyjamaDoc(definitions=definitions())
        results = Parallel(n_jobs=jobs, return_as="generator")(
            delayed(_render_file)(i, params, renderer) for i in range(params.files))
        with h5py.File(audio_tmp, "w") as out:
            out.attrs["sr_hz"] = params.sample_rate
            for key, audio, fields in tqdm(results, total=params.files, disable=quiet, unit="file", desc="synth"):
                out.create_dataset(key, data=audio).attrs["sr_hz"] = params.sample_rate
                doc.add_entry(key, fields)
        pyjama.check(doc, doc.keys(), source=str(pyjama_path))
        pyjama.save(doc, pyjama_tmp)
    return pyjama_path, audio_path
