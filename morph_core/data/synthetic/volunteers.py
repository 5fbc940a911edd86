"""Simulated volunteers: Galaxy-Zoo-DECaLS-like vote counts, a GZ2-like "odd"
question, and Talk-like hashtags, all drawn from the true parameters.

About 40 volunteers see each galaxy; each question is answered by those whose
earlier answers lead to it (the decision tree). A volunteer answers from the
truth with probability ``clarity``, which falls at low signal-to-noise and for
small galaxies, and otherwise from the question's confusion prior.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

N_VOLUNTEERS = (35, 46)  # volunteers per galaxy, uniform in [low, high)

# question -> answers, in the Galaxy Zoo DECaLS naming
QUESTIONS: dict[str, tuple[str, ...]] = {
    "smooth-or-featured": ("smooth", "featured-or-disk", "artifact"),
    "disk-edge-on": ("yes", "no"),
    "has-spiral-arms": ("yes", "no"),
    "bar": ("strong", "weak", "no"),
    "bulge-size": ("dominant", "large", "moderate", "small", "none"),
    "spiral-winding": ("tight", "medium", "loose"),
    "spiral-arm-count": ("1", "2", "3", "4", "more-than-4", "cant-tell"),
    "merging": ("none", "minor-disturbance", "major-disturbance", "merger"),
    "odd": ("yes", "no"),
    "odd-feature": (
        "ring",
        "lens-or-arc",
        "disturbed",
        "irregular",
        "other",
        "merger",
        "dust-lane",
        "overlapping",
    ),
}
# what a confused volunteer answers
_PRIORS = {
    "smooth-or-featured": [0.55, 0.4, 0.05],
    "disk-edge-on": [0.2, 0.8],
    "has-spiral-arms": [0.45, 0.55],
    "bar": [0.1, 0.25, 0.65],
    "bulge-size": [0.1, 0.2, 0.35, 0.25, 0.1],
    "spiral-winding": [0.3, 0.4, 0.3],
    "spiral-arm-count": [0.05, 0.3, 0.1, 0.05, 0.05, 0.45],
    "merging": [0.75, 0.15, 0.07, 0.03],
    "odd": [0.12, 0.88],
    "odd-feature": [0.1, 0.05, 0.15, 0.15, 0.3, 0.1, 0.05, 0.1],
}
# the questions the default encoder is pretrained on: the broad ones only.
# Rings, lenses, dust lanes, "odd" and the tags are kept for testing transfer.
PRETRAINING_QUESTIONS = (
    "smooth-or-featured",
    "disk-edge-on",
    "has-spiral-arms",
    "bar",
    "bulge-size",
    "spiral-winding",
    "spiral-arm-count",
    "merging",
)
TAGS = (
    "#ring",
    "#dustlane",
    "#merger",
    "#overlapping",
    "#barred",
    "#spiral",
    "#lens",
    "#artifact",
    "#irregular",
    "#clumpy",
)


def signal_to_noise(truth: pd.DataFrame) -> np.ndarray:
    """Galaxy S/N within about two half-light radii, from flux and sky level."""
    area = 4 * np.pi * truth["radius_px"].to_numpy() ** 2
    flux = truth["flux"].to_numpy()
    return flux / np.sqrt(flux + truth["sky_level"].to_numpy() * area)


def clarity(truth: pd.DataFrame) -> np.ndarray:
    """Chance that a volunteer answers from the truth rather than guessing."""
    snr = signal_to_noise(truth)
    size = np.clip(truth["radius_px"].to_numpy() / 16, 0.6, 1.0)
    return np.clip(0.3 + 0.69 * (1 - np.exp(-snr / 18)) * size, 0.3, 0.99)


def odd_truth(truth: pd.DataFrame) -> np.ndarray:
    """How odd an attentive volunteer finds each galaxy (chance of 'yes')."""
    prom = truth["prominence"].to_numpy()
    merging = truth["merging"].to_numpy()
    scores = [
        np.full(len(truth), 0.02),
        np.where(truth["ring"], 0.5 + 0.5 * prom, 0),
        np.where(truth["lens"], 0.75 + 0.25 * prom, 0),
        np.where(merging == "merger", 0.7 + 0.3 * prom, 0),
        np.where(merging == "major-disturbance", 0.55 + 0.4 * prom, 0),
        np.where(merging == "minor-disturbance", 0.25 + 0.2 * prom, 0),
        np.where(truth["morphology"] == "irregular", 0.6 + 0.38 * prom, 0),
        np.where(truth["dust_lane"], 0.35 + 0.6 * prom, 0),
        np.where(truth["overlapping"], 0.55 + 0.43 * prom, 0),
    ]
    return np.max(scores, axis=0)


def _truth_answers(truth: pd.DataFrame) -> dict[str, np.ndarray]:
    """The answer an attentive volunteer gives, as probabilities per question."""
    n = len(truth)
    morph = truth["morphology"].to_numpy()
    out: dict[str, np.ndarray] = {}

    def onehot(index: np.ndarray, k: int) -> np.ndarray:
        a = np.zeros((n, k))
        a[np.arange(n), index] = 1
        return a

    smooth = np.select(
        [morph == "elliptical", morph == "artifact", morph == "lenticular"],
        [0, 2, 0],
        1,
    )
    sof = onehot(smooth, 3)
    sof[morph == "lenticular"] = [0.5, 0.5, 0]
    out["smooth-or-featured"] = sof
    out["disk-edge-on"] = onehot(np.where(morph == "edge_on", 0, 1), 2)
    out["has-spiral-arms"] = onehot(np.where(truth["arms"] > 0, 0, 1), 2)
    out["bar"] = onehot(
        truth["bar"].map({"strong": 0, "weak": 1, "none": 2}).to_numpy(), 3
    )
    b = truth["bulge_ratio"].to_numpy()
    out["bulge-size"] = onehot(np.digitize(-b, [-0.45, -0.22, -0.1, -0.03]), 5)
    wind = truth["winding"].map({"tight": 0, "medium": 1, "loose": 2}).fillna(1)
    out["spiral-winding"] = onehot(wind.to_numpy(int), 3)
    out["spiral-arm-count"] = onehot(np.clip(truth["arms"].to_numpy() - 1, 0, 4), 6)
    out["merging"] = onehot(
        truth["merging"]
        .map({"none": 0, "minor-disturbance": 1, "major-disturbance": 2, "merger": 3})
        .to_numpy(),
        4,
    )
    yes = odd_truth(truth)
    out["odd"] = np.stack([yes, 1 - yes], axis=1)
    merging = truth["merging"].to_numpy()
    feature = np.stack(
        [
            truth["ring"].to_numpy(float),
            truth["lens"].to_numpy(float),
            np.isin(merging, ["minor-disturbance", "major-disturbance"]).astype(float),
            (morph == "irregular").astype(float),
            np.zeros(n),
            (merging == "merger").astype(float),
            truth["dust_lane"].to_numpy(float),
            truth["overlapping"].to_numpy(float),
        ],
        axis=1,
    )
    feature[feature.sum(1) == 0, 4] = 1  # nothing odd in truth: "other"
    out["odd-feature"] = feature / feature.sum(1, keepdims=True)
    return out


def simulate_votes(truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Vote counts ``{question}_{answer}`` and fractions ``..._fraction`` per galaxy.

    A fraction is NaN where nobody reached the question.
    """
    n = len(truth)
    c = clarity(truth)[:, None]
    answers = _truth_answers(truth)
    counts: dict[str, np.ndarray] = {}

    def ask(question: str, reached: np.ndarray) -> np.ndarray:
        p = c * answers[question] + (1 - c) * np.asarray(_PRIORS[question])
        p = p / p.sum(1, keepdims=True)
        votes = np.stack(
            [rng.multinomial(int(m), row) for m, row in zip(reached, p, strict=True)]
        )
        counts[question] = votes
        return votes

    everyone = rng.integers(*N_VOLUNTEERS, n)
    first = ask("smooth-or-featured", everyone)
    edge = ask("disk-edge-on", first[:, 1])
    face_on = edge[:, 1]
    spiral = ask("has-spiral-arms", face_on)
    ask("bar", face_on)
    ask("bulge-size", face_on)
    ask("spiral-winding", spiral[:, 0])
    ask("spiral-arm-count", spiral[:, 0])
    ask("merging", everyone)
    odd = ask("odd", everyone)
    ask("odd-feature", odd[:, 0])

    columns: dict[str, np.ndarray] = {}
    for question, votes in counts.items():
        total = votes.sum(1)
        for k, answer in enumerate(QUESTIONS[question]):
            columns[f"{question}_{answer}"] = votes[:, k]
        with np.errstate(invalid="ignore", divide="ignore"):
            for k, answer in enumerate(QUESTIONS[question]):
                columns[f"{question}_{answer}_fraction"] = np.round(
                    votes[:, k] / total, 4
                )
    return pd.DataFrame(columns, index=truth.index)


def simulate_tags(truth: pd.DataFrame, rng: np.random.Generator) -> list[str]:
    """Talk-like hashtags with counts (``#ring:3 #barred:1``) on a minority of
    galaxies; tags are missing far more often than present, and a few are wrong."""
    n = len(truth)
    prom = truth["prominence"].to_numpy()
    morph = truth["morphology"].to_numpy()
    merging = truth["merging"].to_numpy()
    rate = {
        "#ring": truth["ring"] * (0.15 + 0.35 * prom),
        "#dustlane": truth["dust_lane"] * (0.1 + 0.3 * prom),
        "#merger": (merging == "merger") * 0.4
        + (merging == "major-disturbance") * 0.15,
        "#overlapping": truth["overlapping"] * 0.35,
        "#barred": (truth["bar"] == "strong") * 0.12,
        "#spiral": (truth["arms"] > 0) * 0.03,
        "#lens": truth["lens"] * 0.5,
        "#artifact": (truth["artifact"] != "none") * 0.35,
        "#irregular": (morph == "irregular") * 0.3,
        "#clumpy": (morph == "irregular") * 0.15 + (truth["arms"] > 3) * 0.03,
    }
    tags = [[] for _ in range(n)]
    for tag, p in rate.items():
        chosen = rng.random(n) < np.asarray(p, float) + 0.0008  # some wrong tags
        for i in np.flatnonzero(chosen):
            tags[i].append(f"{tag}:{1 + rng.poisson(1.5 * prom[i])}")
    return [" ".join(t) for t in tags]
