# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Galaxy morphology with deep representations: the workshop's four lessons
#
# The same four lessons as the dashboard's Workshop page, through the
# `morph_core` library, for a workshop held in Jupyter or Colab (Walmsley et al.
# 2022, MNRAS 513, 1581). Each lesson does the task in code and scores it
# against the synthetic sky's truth with the functions the dashboard uses.
#
# Prepare the demo sky once first (`python -m morph_core prepare`, a few minutes
# on two cores), or point `MORPH_WORKSPACE` at a prepared workspace. Open this
# file as a notebook with `jupytext --to notebook docs/tutorial.py`.

# %% tags=["parameters"]
DATASET = "synthetic"
LABEL_COUNTS = (10, 50)  # lesson 4: labels per class of the two runs
TAG = "#ring"

# %%
import numpy as np
import pandas as pd

from morph_core.app import figures
from morph_core.dataset import UMAP_DEFAULT, open_dataset
from morph_core.pipeline.reduce import PCA_ANOMALY, PCA_SIMILARITY
from morph_core.tools import similarity
from morph_core.tools.anomaly.baseline import isolation_scores
from morph_core.tools.anomaly.features import anomaly_features
from morph_core.tools.anomaly.finder import AnomalyFinder
from morph_core.tools.anomaly.simulated import rating_from_label
from morph_core.training.config import FinetuneConfig
from morph_core.training.finetune import train_run
from morph_core.training.labels import balanced_split, labels_from_column
from morph_core.workshop import lessons

dataset = open_dataset(DATASET)
catalog = dataset.catalog()
lessons.check_truth(catalog)
print(f"{len(catalog):,} galaxies, {dataset.features().shape[1]} features each")

# %% [markdown]
# ## 1. The map of the representation
# PCA then UMAP squeeze the CNN's 1280 numbers per galaxy into a 2-D map where
# look-alikes sit together (§2.3). The map was never told what a merger is:
# colour it by the truth and see whether mergers gather.

# %%
embedding = dataset.umap(*UMAP_DEFAULT)
figures.map_figure(catalog, embedding, "merging")

# %% [markdown]
# The task: select the mergers' region. Here, in code: the galaxies within a
# radius of the mergers' centre on the map. Try other radii: purity falls as
# completeness rises.

# %%
mergers = lessons.is_merger(catalog)
centre = embedding[mergers].mean(axis=0) if mergers.any() else embedding.mean(0)
distance = np.linalg.norm(embedding - centre, axis=1)
for radius in np.quantile(distance, [0.02, 0.05, 0.1]):
    chosen = catalog["galaxy_id"][distance <= radius].tolist()
    print(f"radius {radius:.2f}:", lessons.score_selection(catalog, chosen))

# %% [markdown]
# ## 2. Similar galaxies from one tag
# Start from the galaxy volunteers tagged most often and take its nearest
# neighbours in PCA-10 by Manhattan distance (§2.4): how many are rings?

# %%
pca_10 = dataset.pca_features(PCA_SIMILARITY)
index = similarity.NeighbourIndex().fit(pca_10)
found = similarity.search(index, catalog, pca_10, "tag", TAG, k=lessons.N_PICKS)
print(found.note)
picks = found.neighbours["galaxy_id"].tolist()
lessons.score_picks(catalog, picks)

# %% [markdown]
# ## 3. Finding what you find interesting
# A rater who gives 5 to rings and lenses and 0 to everything else; a Gaussian
# process on PCA-40 picks each next batch of 10 by expected improvement (§3.2).
# Compare the galaxies met with a random order.

# %%
features = anomaly_features("cnn", dataset.pca_features(PCA_ANOMALY), None)
oddness = isolation_scores(features)
truth = rating_from_label(lessons.is_interesting(catalog))
finder = AnomalyFinder(random_state=0)
rated, given = np.array([], int), np.array([], int)
target = min(lessons.N_RATINGS, len(catalog))
while len(rated) < target:
    rows = finder.fit(features, rated, given).propose(features, oddness).rows
    rows = rows[: target - len(rated)]
    rated, given = np.concatenate([rated, rows]), np.concatenate([given, truth[rows]])
order = catalog["galaxy_id"].iloc[rated].tolist()
interesting = lessons.interesting_by_id(catalog)
print(lessons.score_ratings(interesting, order))
curve = lessons.found_curve(interesting, order)
figures.found_figure(
    pd.DataFrame(
        {"name": "GP", "n_rated": np.arange(1, len(curve) + 1), "found": curve}
    ),
    float(lessons.is_interesting(catalog).mean()),
    target,
)

# %% [markdown]
# ## 4. A ring classifier from a handful of labels
# A small head on the frozen representation (the prepared features: no image is
# read) learns rings from few labels (§4). Every run uses seed 0, so all are
# scored on the same test set, as in the workshop.

# %%
labels = labels_from_column(catalog, "ring")
aucs = {}
for n in LABEL_COUNTS:
    config = FinetuneConfig(n_per_class=n, strategy="head", seed=0)
    run = train_run(
        catalog,
        labels,
        balanced_split(labels, n, config.seed),
        dataset.encoder_spec(),
        config,
        features=dataset.features(),
    )
    aucs[n] = run.test["auc"]
    print(f"{n} labels per class: test ROC AUC {run.test['auc']:.3f}")
